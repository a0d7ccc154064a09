//! DataTransfer: vendor-specific data from the station.

use rust_ocpp::v2_0_1::enumerations::data_transfer_status_enum_type::DataTransferStatusEnumType;
use rust_ocpp::v2_0_1::messages::datatransfer::DataTransferResponse;
use serde::Deserialize;
use serde_json::Value;

use crate::port::BackendError;
use crate::session::StationContext;
use crate::v201::{max_len, Pdu};

/// The DataTransfer request. 2.0.1 makes `data` of any JSON type, where rust-ocpp's type allows
/// only a string; a vendor sending an object must not get a TypeConstraintViolation.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct DataTransferRequest {
    message_id: Option<String>,
    #[serde(default)]
    data: Option<Value>,
    vendor_id: String,
}

impl Pdu for DataTransferRequest {
    fn check(&self) -> Result<(), String> {
        max_len("vendorId", &self.vendor_id, 255)?;
        max_len("messageId", self.message_id.as_deref().unwrap_or(""), 50)
    }
}

pub(crate) async fn handle(
    ctx: &StationContext,
    req: DataTransferRequest,
) -> Result<DataTransferResponse, BackendError> {
    let data = req.data.map(|d| match d {
        Value::String(s) => s,
        other => other.to_string(),
    });
    let reply = ctx
        .backend
        .data_transfer(
            &ctx.station_id,
            &req.vendor_id,
            req.message_id.as_deref(),
            data.as_deref(),
        )
        .await?;
    let status = match reply.status.as_str() {
        "Accepted" => DataTransferStatusEnumType::Accepted,
        "UnknownMessageId" => DataTransferStatusEnumType::UnknownMessageId,
        "UnknownVendorId" => DataTransferStatusEnumType::UnknownVendorId,
        _ => DataTransferStatusEnumType::Rejected,
    };
    Ok(DataTransferResponse {
        status,
        data: reply.data,
        status_info: None,
    })
}
