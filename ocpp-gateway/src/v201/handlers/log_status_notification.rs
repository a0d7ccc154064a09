//! LogStatusNotification: progress of a log upload (1.6's DiagnosticsStatusNotification).

use rust_ocpp::v2_0_1::messages::log_status_notification::{
    LogStatusNotificationRequest, LogStatusNotificationResponse,
};

use crate::port::BackendError;
use crate::session::StationContext;
use crate::v201::{wire_name, Pdu};

impl Pdu for LogStatusNotificationRequest {}

pub(crate) async fn handle(
    ctx: &StationContext,
    req: LogStatusNotificationRequest,
) -> Result<LogStatusNotificationResponse, BackendError> {
    ctx.backend
        .diagnostics_status(&ctx.station_id, &wire_name(&req.status), req.request_id)
        .await?;
    Ok(LogStatusNotificationResponse {})
}
