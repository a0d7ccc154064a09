//! StartTransaction: the station started charging and needs a transaction id.

use rust_decimal::Decimal;
use rust_ocpp::v1_6::messages::start_transaction::{
    StartTransactionRequest, StartTransactionResponse,
};

use super::id_tag_info;
use crate::port::{BackendError, EvseRef, TransactionStart};
use crate::session::StationContext;

pub(crate) async fn handle(
    ctx: &StationContext,
    req: StartTransactionRequest,
) -> Result<StartTransactionResponse, BackendError> {
    let started = ctx
        .backend
        .start_transaction(
            &ctx.station_id,
            TransactionStart {
                evse: EvseRef::from_v16_connector(req.connector_id),
                id_token: req.id_tag,
                meter_start_wh: Decimal::from(req.meter_start),
                reservation_id: req.reservation_id,
                timestamp: req.timestamp,
            },
        )
        .await?;
    // 1.6 transaction ids are int32; the core hands out ids in that range for 1.6 stations.
    let transaction_id = i32::try_from(started.transaction_id)
        .map_err(|_| BackendError("transaction id out of the 1.6 int32 range".into()))?;
    Ok(StartTransactionResponse {
        id_tag_info: id_tag_info(&started.verdict),
        transaction_id,
    })
}
