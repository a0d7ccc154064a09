//! ReservationStatusUpdate: a reservation ended at the station without being used (2.0.1 H03/H04:
//! `Expired` or `Removed`).

use rust_ocpp::v2_0_1::messages::reservation_status_update::{
    ReservationStatusUpdateRequest, ReservationStatusUpdateResponse,
};

use crate::port::BackendError;
use crate::session::StationContext;
use crate::v201::{wire_name, Pdu};

impl Pdu for ReservationStatusUpdateRequest {}

pub(crate) async fn handle(
    ctx: &StationContext,
    req: ReservationStatusUpdateRequest,
) -> Result<ReservationStatusUpdateResponse, BackendError> {
    ctx.backend
        .reservation_status(
            &ctx.station_id,
            req.reservation_id,
            &wire_name(&req.reservation_update_status),
        )
        .await?;
    Ok(ReservationStatusUpdateResponse {})
}
