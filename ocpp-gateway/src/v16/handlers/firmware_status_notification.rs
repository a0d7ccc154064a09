//! FirmwareStatusNotification: progress of a firmware update.

use rust_ocpp::v1_6::messages::firmware_status_notification::{
    FirmwareStatusNotificationRequest, FirmwareStatusNotificationResponse,
};

use crate::port::BackendError;
use crate::session::StationContext;
use crate::v16::wire_name;

pub(crate) async fn handle(
    ctx: &StationContext,
    req: FirmwareStatusNotificationRequest,
) -> Result<FirmwareStatusNotificationResponse, BackendError> {
    ctx.backend
        .firmware_status(&ctx.station_id, &wire_name(&req.status), None)
        .await?;
    Ok(FirmwareStatusNotificationResponse {})
}
