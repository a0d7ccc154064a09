//! StopTransaction: the station ended a transaction (possibly long ago, after being offline).

use rust_decimal::Decimal;
use rust_ocpp::v1_6::messages::stop_transaction::{
    StopTransactionRequest, StopTransactionResponse,
};

use super::{id_tag_info, meter_values::readings};
use crate::port::{BackendError, TransactionStop};
use crate::session::StationContext;
use crate::v16::wire_name;

pub(crate) async fn handle(
    ctx: &StationContext,
    req: StopTransactionRequest,
) -> Result<StopTransactionResponse, BackendError> {
    let verdict = ctx
        .backend
        .stop_transaction(
            &ctx.station_id,
            TransactionStop {
                transaction_id: i64::from(req.transaction_id),
                id_token: req.id_tag,
                meter_stop_wh: Decimal::from(req.meter_stop),
                timestamp: req.timestamp,
                // OCPP 1.6 §7.42: an absent reason means Local.
                reason: req
                    .reason
                    .map(|r| wire_name(&r))
                    .unwrap_or_else(|| "Local".to_owned()),
                readings: readings(req.transaction_data.unwrap_or_default()),
            },
        )
        .await?;
    Ok(StopTransactionResponse {
        id_tag_info: verdict.as_ref().map(id_tag_info),
    })
}
