//! Heartbeat: the station is alive and wants the current time.

use chrono::Utc;
use rust_ocpp::v2_0_1::messages::heartbeat::{HeartbeatRequest, HeartbeatResponse};

use crate::port::BackendError;
use crate::session::StationContext;
use crate::v201::Pdu;

impl Pdu for HeartbeatRequest {}

pub(crate) async fn handle(
    ctx: &StationContext,
    _req: HeartbeatRequest,
) -> Result<HeartbeatResponse, BackendError> {
    ctx.backend.heartbeat(&ctx.station_id).await?;
    Ok(HeartbeatResponse {
        current_time: Utc::now(),
    })
}
