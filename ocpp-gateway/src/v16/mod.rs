//! The OCPP 1.6J adapter: routes each station-initiated action to its handler, checks payloads
//! against the action's PDU, and turns CSMS-initiated [`Command`](crate::port::Command)s into 1.6
//! calls.
//!
//! The adapter translates; it does not decide. Every question ("is this token allowed?") goes to the
//! [`StationBackend`](crate::port::StationBackend).

pub(crate) mod commands;
mod handlers;
mod smart_charging;

use std::future::Future;

use chrono::NaiveDateTime;
use serde::{de::DeserializeOwned, Serialize};
use serde_json::Value;

use crate::frame::{ErrorCode, FrameErrorKind};
use crate::session::StationContext;

/// A CALL that fails: the CALLERROR to send back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct CallFailure {
    pub code: ErrorCode,
    pub description: String,
}

impl CallFailure {
    fn new(code: ErrorCode, description: impl Into<String>) -> Self {
        CallFailure {
            code,
            description: description.into(),
        }
    }
}

/// The 1.6 error code for a malformed message. OCPP-J 1.6 has no code of its own for an unknown
/// message type (2.0.1 added MessageTypeNotSupported); the array is then not a valid RPC frame,
/// which 1.6 calls a ProtocolError.
pub(crate) fn frame_error_code(kind: FrameErrorKind) -> ErrorCode {
    match kind {
        FrameErrorKind::NotJson | FrameErrorKind::NotAnArray => ErrorCode::FormationViolation,
        FrameErrorKind::BadShape | FrameErrorKind::UnknownMessageType => ErrorCode::ProtocolError,
    }
}

/// Actions a 1.6 Central System sends; a station sending one of them gets NotSupported rather than
/// NotImplemented, since the action exists but goes the other way.
const CSMS_INITIATED: &[&str] = &[
    "CancelReservation",
    "ChangeAvailability",
    "ChangeConfiguration",
    "ClearCache",
    "ClearChargingProfile",
    "GetCompositeSchedule",
    "GetConfiguration",
    "GetDiagnostics",
    "GetLocalListVersion",
    "RemoteStartTransaction",
    "RemoteStopTransaction",
    "ReserveNow",
    "Reset",
    "SendLocalList",
    "SetChargingProfile",
    "TriggerMessage",
    "UnlockConnector",
    "UpdateFirmware",
];

/// Handles one station-initiated CALL and returns the CALLRESULT payload.
pub(crate) async fn handle_call(
    ctx: &StationContext,
    action: &str,
    payload: Value,
) -> Result<Value, CallFailure> {
    use handlers::*;
    match action {
        "Authorize" => run(ctx, payload, authorize::handle).await,
        "BootNotification" => run(ctx, payload, boot_notification::handle).await,
        "DataTransfer" => run(ctx, payload, data_transfer::handle).await,
        "DiagnosticsStatusNotification" => {
            run(ctx, payload, diagnostics_status_notification::handle).await
        }
        "FirmwareStatusNotification" => {
            run(ctx, payload, firmware_status_notification::handle).await
        }
        "Heartbeat" => run(ctx, payload, heartbeat::handle).await,
        "MeterValues" => run(ctx, payload, meter_values::handle).await,
        "StartTransaction" => run(ctx, payload, start_transaction::handle).await,
        "StatusNotification" => run(ctx, payload, status_notification::handle).await,
        "StopTransaction" => run(ctx, payload, stop_transaction::handle).await,
        other if CSMS_INITIATED.contains(&other) => Err(CallFailure::new(
            ErrorCode::NotSupported,
            format!("{other} is sent by the Central System, not by a Charge Point"),
        )),
        other => Err(CallFailure::new(
            ErrorCode::NotImplemented,
            format!("unknown action {other}"),
        )),
    }
}

/// Decodes the request, runs the handler, encodes the response. A backend failure becomes an
/// InternalError: nothing was stored, and the station will retry.
async fn run<'a, Req, Resp, F, Fut>(
    ctx: &'a StationContext,
    payload: Value,
    handler: F,
) -> Result<Value, CallFailure>
where
    Req: Pdu,
    Resp: Serialize,
    F: FnOnce(&'a StationContext, Req) -> Fut,
    Fut: Future<Output = Result<Resp, crate::port::BackendError>>,
{
    let request: Req = decode(&ctx.station_id, payload)?;
    let response = handler(ctx, request).await.map_err(|e| {
        tracing::error!(station = %ctx.station_id, error = %e, "backend failed");
        CallFailure::new(
            ErrorCode::InternalError,
            "the CPMS could not store this message",
        )
    })?;
    serde_json::to_value(response)
        .map_err(|e| CallFailure::new(ErrorCode::InternalError, format!("encoding failed: {e}")))
}

/// Checks a payload against the PDU of its action and classifies what breaks it the way OCPP-J 1.6
/// §4.2.3 does: a missing field is an occurrence violation, a wrong JSON type a type violation, a
/// value outside its enumeration, range or length a property violation.
pub(crate) fn decode<T: Pdu>(station_id: &str, mut payload: Value) -> Result<T, CallFailure> {
    if !payload.is_object() {
        return Err(CallFailure::new(
            ErrorCode::FormationViolation,
            "payload must be a JSON object",
        ));
    }
    if assume_utc(&mut payload) {
        tracing::warn!(station = %station_id, "timestamp without a time zone taken as UTC");
    }
    let request: T = serde_json::from_value(payload).map_err(|e| classify(&e))?;
    request.check().map_err(|e| {
        CallFailure::new(
            ErrorCode::PropertyConstraintViolation,
            e.replace('\n', "; "),
        )
    })?;
    Ok(request)
}

/// A 1.6 PDU: deserialisable, with the length and range checks of its schema where rust-ocpp
/// declares them (not every rust-ocpp type derives `Validate`, hence this trait).
pub(crate) trait Pdu: DeserializeOwned {
    /// Checks the constraints serde cannot express.
    fn check(&self) -> Result<(), String> {
        Ok(())
    }
}

macro_rules! validated_pdu {
    ($($t:ty),* $(,)?) => {$(
        impl Pdu for $t {
            fn check(&self) -> Result<(), String> {
                validator::Validate::validate(self).map_err(|e| e.to_string())
            }
        }
    )*};
}

macro_rules! plain_pdu {
    ($($t:ty),* $(,)?) => {$( impl Pdu for $t {} )*};
}

use rust_ocpp::v1_6::messages as m;

validated_pdu!(
    m::authorize::AuthorizeRequest,
    m::boot_notification::BootNotificationRequest,
    m::data_transfer::DataTransferRequest,
    m::heart_beat::HeartbeatRequest,
    m::start_transaction::StartTransactionRequest,
    m::status_notification::StatusNotificationRequest,
    m::stop_transaction::StopTransactionRequest,
    m::change_configuration::ChangeConfigurationResponse,
    m::get_configuration::GetConfigurationResponse,
    m::unlock_connector::UnlockConnectorResponse,
);

plain_pdu!(
    m::meter_values::MeterValuesRequest,
    m::firmware_status_notification::FirmwareStatusNotificationRequest,
    m::diagnostics_status_notification::DiagnosticsStatusNotificationRequest,
    m::remote_start_transaction::RemoteStartTransactionResponse,
    m::remote_stop_transaction::RemoteStopTransactionResponse,
    m::reset::ResetResponse,
    m::change_availability::ChangeAvailabilityResponse,
    m::trigger_message::TriggerMessageResponse,
    m::clear_cache::ClearCacheResponse,
);

fn classify(error: &serde_json::Error) -> CallFailure {
    let message = error.to_string();
    let code = if message.starts_with("missing field") {
        ErrorCode::OccurenceConstraintViolation
    } else if message.starts_with("invalid type") {
        ErrorCode::TypeConstraintViolation
    } else if message.starts_with("duplicate field") {
        ErrorCode::OccurenceConstraintViolation
    } else {
        // unknown variant, invalid value (e.g. a negative connectorId), bad date-time format
        ErrorCode::PropertyConstraintViolation
    };
    CallFailure::new(code, message)
}

/// Real 1.6 chargers send timestamps like `2024-05-01T10:00:00` without a zone, which rust-ocpp
/// rejects. Any string of exactly that form is a date-time, so it is taken as UTC. Returns whether
/// anything was changed.
pub(crate) fn assume_utc(value: &mut Value) -> bool {
    match value {
        Value::String(s) if NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S%.f").is_ok() => {
            s.push('Z');
            true
        }
        Value::Array(items) => items.iter_mut().fold(false, |acc, v| assume_utc(v) | acc),
        Value::Object(map) => map.values_mut().fold(false, |acc, v| assume_utc(v) | acc),
        _ => false,
    }
}

/// The wire name of a rust-ocpp enum value (its serde name).
pub(crate) fn wire_name<T: Serialize>(value: &T) -> String {
    match serde_json::to_value(value) {
        Ok(Value::String(s)) => s,
        Ok(other) => other.to_string(),
        Err(_) => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn zoneless_timestamps_become_utc() {
        let mut v = json!({"timestamp": "2024-05-01T10:00:00", "nested": [{"t": "2024-05-01T10:00:00.123"}], "idTag": "ABC"});
        assert!(assume_utc(&mut v));
        assert_eq!(v["timestamp"], "2024-05-01T10:00:00Z");
        assert_eq!(v["nested"][0]["t"], "2024-05-01T10:00:00.123Z");
        assert_eq!(v["idTag"], "ABC");
        let mut zoned = json!({"timestamp": "2024-05-01T10:00:00Z"});
        assert!(!assume_utc(&mut zoned));
    }

    #[test]
    fn classifies_payload_errors_like_the_spec() {
        use rust_ocpp::v1_6::messages::start_transaction::StartTransactionRequest;
        let code = |v: Value| {
            decode::<StartTransactionRequest>("CP1", v)
                .unwrap_err()
                .code
        };
        let ok = json!({"connectorId": 1, "idTag": "TAG", "meterStart": 0, "timestamp": "2024-05-01T10:00:00Z"});
        assert!(decode::<StartTransactionRequest>("CP1", ok.clone()).is_ok());
        let mut missing = ok.clone();
        missing.as_object_mut().unwrap().remove("idTag");
        assert_eq!(code(missing), ErrorCode::OccurenceConstraintViolation);
        let mut wrong_type = ok.clone();
        wrong_type["meterStart"] = json!("zero");
        assert_eq!(code(wrong_type), ErrorCode::TypeConstraintViolation);
        let mut negative = ok.clone();
        negative["connectorId"] = json!(-1);
        assert_eq!(code(negative), ErrorCode::PropertyConstraintViolation);
        let mut too_long = ok.clone();
        too_long["idTag"] = json!("X".repeat(21));
        assert_eq!(code(too_long), ErrorCode::PropertyConstraintViolation);
        assert_eq!(code(json!([1, 2])), ErrorCode::FormationViolation);
    }
}
