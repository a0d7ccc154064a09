//! FirmwareStatusNotification: progress of a firmware update.

use rust_ocpp::v2_0_1::messages::firmware_status_notification::{
    FirmwareStatusNotificationRequest, FirmwareStatusNotificationResponse,
};

use crate::port::BackendError;
use crate::session::StationContext;
use crate::v201::{wire_name, Pdu};

impl Pdu for FirmwareStatusNotificationRequest {}

pub(crate) async fn handle(
    ctx: &StationContext,
    req: FirmwareStatusNotificationRequest,
) -> Result<FirmwareStatusNotificationResponse, BackendError> {
    ctx.backend
        .firmware_status(&ctx.station_id, &wire_name(&req.status), req.request_id)
        .await?;
    Ok(FirmwareStatusNotificationResponse {})
}
