//! DataTransfer: vendor-specific data from the station.

use rust_ocpp::v1_6::messages::data_transfer::{DataTransferRequest, DataTransferResponse};
use rust_ocpp::v1_6::types::DataTransferStatus;

use crate::port::BackendError;
use crate::session::StationContext;

pub(crate) async fn handle(
    ctx: &StationContext,
    req: DataTransferRequest,
) -> Result<DataTransferResponse, BackendError> {
    let reply = ctx
        .backend
        .data_transfer(
            &ctx.station_id,
            &req.vendor_string,
            req.message_id.as_deref(),
            req.data.as_deref(),
        )
        .await?;
    let status = match reply.status.as_str() {
        "Accepted" => DataTransferStatus::Accepted,
        "UnknownMessageId" => DataTransferStatus::UnknownMessageId,
        "UnknownVendorId" => DataTransferStatus::UnknownVendorId,
        _ => DataTransferStatus::Rejected,
    };
    Ok(DataTransferResponse {
        status,
        data: reply.data,
    })
}
