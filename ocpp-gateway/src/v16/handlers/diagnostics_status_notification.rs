//! DiagnosticsStatusNotification: progress of a diagnostics upload.

use rust_ocpp::v1_6::messages::diagnostics_status_notification::{
    DiagnosticsStatusNotificationRequest, DiagnosticsStatusNotificationResponse,
};

use crate::port::BackendError;
use crate::session::StationContext;
use crate::v16::wire_name;

pub(crate) async fn handle(
    ctx: &StationContext,
    req: DiagnosticsStatusNotificationRequest,
) -> Result<DiagnosticsStatusNotificationResponse, BackendError> {
    ctx.backend
        .diagnostics_status(&ctx.station_id, &wire_name(&req.status), None)
        .await?;
    Ok(DiagnosticsStatusNotificationResponse {})
}
