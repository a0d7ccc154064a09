//! Heartbeat: the station is alive and wants the current time.

use chrono::Utc;
use rust_ocpp::v1_6::messages::heart_beat::{HeartbeatRequest, HeartbeatResponse};

use crate::port::BackendError;
use crate::session::StationContext;

pub(crate) async fn handle(
    ctx: &StationContext,
    _req: HeartbeatRequest,
) -> Result<HeartbeatResponse, BackendError> {
    ctx.backend.heartbeat(&ctx.station_id).await?;
    Ok(HeartbeatResponse {
        current_time: Utc::now(),
    })
}
