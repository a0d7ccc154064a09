//! TransactionEvent: the 2.0.1 transaction lifecycle (OCPP 2.0.1 E01-E15), Started, Updated and
//! Ended in one message, each numbered by seqNo and possibly replayed after an offline period.
//! The handler only translates; ordering and de-duplication are the core's (see
//! [`StationBackend::transaction_event`](crate::port::StationBackend::transaction_event)).

use rust_ocpp::v2_0_1::enumerations::transaction_event_enum_type::TransactionEventEnumType;
use rust_ocpp::v2_0_1::messages::transaction_event::{
    TransactionEventRequest, TransactionEventResponse,
};

use super::meter_values::{check_meter_values, readings};
use super::{check_id_token, id_token_info};
use crate::port::{BackendError, EvseRef, TransactionEventKind, TransactionEventReport};
use crate::session::StationContext;
use crate::v201::{at_least, max_len, wire_name, Pdu};

impl Pdu for TransactionEventRequest {
    fn check(&self) -> Result<(), String> {
        // TransactionType.transactionId: identifierString of at most 36 characters.
        let id = &self.transaction_info.transaction_id;
        if id.is_empty() {
            return Err("transactionId must not be empty".into());
        }
        max_len("transactionId", id, 36)?;
        at_least("seqNo", self.seq_no, 0)?;
        if let Some(token) = &self.id_token {
            check_id_token(token)?;
        }
        if let Some(evse) = &self.evse {
            at_least("evse.id", evse.id, 0)?;
            at_least("evse.connectorId", evse.connector_id.unwrap_or(0), 0)?;
        }
        if let Some(values) = &self.meter_value {
            check_meter_values(values)?;
        }
        Ok(())
    }
}

pub(crate) async fn handle(
    ctx: &StationContext,
    req: TransactionEventRequest,
) -> Result<TransactionEventResponse, BackendError> {
    let verdict = ctx
        .backend
        .transaction_event(&ctx.station_id, report(req))
        .await?;
    Ok(TransactionEventResponse {
        // 2.0.1 E: idTokenInfo is answered when the event carried an idToken.
        id_token_info: verdict.as_ref().map(id_token_info),
        ..Default::default()
    })
}

fn report(req: TransactionEventRequest) -> TransactionEventReport {
    let info = req.transaction_info;
    TransactionEventReport {
        kind: match req.event_type {
            TransactionEventEnumType::Started => TransactionEventKind::Started,
            TransactionEventEnumType::Updated => TransactionEventKind::Updated,
            TransactionEventEnumType::Ended => TransactionEventKind::Ended,
        },
        station_transaction_id: info.transaction_id,
        seq_no: i64::from(req.seq_no),
        timestamp: req.timestamp,
        trigger_reason: wire_name(&req.trigger_reason),
        offline: req.offline.unwrap_or(false),
        evse: req.evse.map(|e| EvseRef {
            evse_id: e.id,
            // An EVSE without a connector id: its first connector is meant.
            connector_id: e.connector_id.unwrap_or(1),
        }),
        id_token: req.id_token.map(|t| t.id_token),
        charging_state: info.charging_state.map(|s| wire_name(&s)),
        stopped_reason: info.stopped_reason.map(|r| wire_name(&r)),
        remote_start_id: info.remote_start_id,
        reservation_id: req.reservation_id,
        readings: readings(req.meter_value.unwrap_or_default()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::v201::decode;
    use serde_json::json;

    fn request(v: serde_json::Value) -> TransactionEventRequest {
        decode("CP1", v).unwrap()
    }

    #[test]
    fn an_ended_event_keeps_its_reason_sequence_and_readings() {
        let r = report(request(json!({
            "eventType": "Ended", "timestamp": "2024-05-01T10:00:00Z", "triggerReason": "StopAuthorized",
            "seqNo": 4, "offline": true,
            "transactionInfo": {"transactionId": "TX-1", "stoppedReason": "EVDisconnected", "remoteStartId": 9},
            "idToken": {"idToken": "TAG", "type": "ISO14443"},
            "evse": {"id": 2},
            "meterValue": [{"timestamp": "2024-05-01T10:00:00Z", "sampledValue": [{"value": 4000}]}]
        })));
        assert_eq!(r.kind, TransactionEventKind::Ended);
        assert_eq!(r.station_transaction_id, "TX-1");
        assert_eq!(r.seq_no, 4);
        assert!(r.offline);
        assert_eq!(r.trigger_reason, "StopAuthorized");
        assert_eq!(r.stopped_reason.as_deref(), Some("EVDisconnected"));
        assert_eq!(r.remote_start_id, Some(9));
        assert_eq!(r.id_token.as_deref(), Some("TAG"));
        assert_eq!(
            r.evse,
            Some(EvseRef {
                evse_id: 2,
                connector_id: 1
            })
        );
        assert_eq!(r.readings[0].values[0].value, "4000");
    }

    #[test]
    fn schema_limits_are_property_violations() {
        let base = json!({
            "eventType": "Started", "timestamp": "2024-05-01T10:00:00Z", "triggerReason": "Authorized",
            "seqNo": 0, "transactionInfo": {"transactionId": "TX-1"}
        });
        let mut long_id = base.clone();
        long_id["transactionInfo"]["transactionId"] = json!("X".repeat(37));
        assert!(decode::<TransactionEventRequest>("CP1", long_id).is_err());
        let mut negative = base.clone();
        negative["seqNo"] = json!(-1);
        assert!(decode::<TransactionEventRequest>("CP1", negative).is_err());
        assert!(decode::<TransactionEventRequest>("CP1", base).is_ok());
    }
}
