//! The OCPP 2.0.1 adapter: routes each station-initiated action to its handler, checks payloads
//! against the action's PDU and classifies what breaks them into the OCPP-J 2.0.1 error codes, and
//! turns CSMS-initiated [`Command`](crate::port::Command)s into 2.0.1 calls.
//!
//! Like the 1.6 adapter it translates and does not decide: the same
//! [`StationBackend`](crate::port::StationBackend) questions are asked, so the core cannot tell
//! which version a station speaks.

pub(crate) mod commands;
mod handlers;
mod smart_charging;

use std::future::Future;

use serde::{de::DeserializeOwned, Serialize};
use serde_json::Value;

use crate::frame::{ErrorCode, FrameErrorKind};
use crate::session::StationContext;
use crate::v16::{assume_utc, CallFailure};

fn failure(code: ErrorCode, description: impl Into<String>) -> CallFailure {
    CallFailure {
        code,
        description: description.into(),
    }
}

/// The 2.0.1 error code for a malformed message. OCPP-J 2.0.1 §4.3: a message that is no valid RPC
/// frame (not JSON, not an array, an unreadable id) is an RpcFrameworkError; an unknown message
/// type number has a code of its own.
pub(crate) fn frame_error_code(kind: FrameErrorKind) -> ErrorCode {
    match kind {
        FrameErrorKind::NotJson | FrameErrorKind::NotAnArray | FrameErrorKind::BadShape => {
            ErrorCode::RpcFrameworkError
        }
        FrameErrorKind::UnknownMessageType => ErrorCode::MessageTypeNotSupported,
    }
}

/// Actions that exist in 2.0.1 but that we do not take from a station: those a CSMS sends, and
/// station-initiated ones outside what this CPMS implements. OCPP-J 2.0.1 §4.3: a recognised but
/// unsupported action is NotSupported; only an unknown one is NotImplemented.
const KNOWN_UNSUPPORTED: &[&str] = &[
    // CSMS-initiated
    "CancelReservation",
    "CertificateSigned",
    "ChangeAvailability",
    "ClearCache",
    "ClearChargingProfile",
    "ClearDisplayMessage",
    "ClearVariableMonitoring",
    "CostUpdated",
    "CustomerInformation",
    "DeleteCertificate",
    "GetBaseReport",
    "GetChargingProfiles",
    "GetCompositeSchedule",
    "GetDisplayMessages",
    "GetInstalledCertificateIds",
    "GetLocalListVersion",
    "GetLog",
    "GetMonitoringReport",
    "GetReport",
    "GetTransactionStatus",
    "GetVariables",
    "InstallCertificate",
    "PublishFirmware",
    "RequestStartTransaction",
    "RequestStopTransaction",
    "ReserveNow",
    "Reset",
    "SendLocalList",
    "SetChargingProfile",
    "SetDisplayMessage",
    "SetMonitoringBase",
    "SetMonitoringLevel",
    "SetNetworkProfile",
    "SetVariableMonitoring",
    "SetVariables",
    "TriggerMessage",
    "UnlockConnector",
    "UnpublishFirmware",
    "UpdateFirmware",
    // station-initiated, not implemented here (smart charging, ISO 15118, display messages, ...)
    "ClearedChargingLimit",
    "Get15118EVCertificate",
    "GetCertificateStatus",
    "NotifyChargingLimit",
    "NotifyCustomerInformation",
    "NotifyDisplayMessages",
    "NotifyEVChargingNeeds",
    "NotifyEVChargingSchedule",
    "NotifyMonitoringReport",
    "PublishFirmwareStatusNotification",
    "ReportChargingProfiles",
    "SignCertificate",
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
        "FirmwareStatusNotification" => {
            run(ctx, payload, firmware_status_notification::handle).await
        }
        "Heartbeat" => run(ctx, payload, heartbeat::handle).await,
        "LogStatusNotification" => run(ctx, payload, log_status_notification::handle).await,
        "MeterValues" => run(ctx, payload, meter_values::handle).await,
        "NotifyEvent" => run(ctx, payload, notify_event::handle).await,
        "NotifyReport" => run(ctx, payload, notify_report::handle).await,
        "ReservationStatusUpdate" => run(ctx, payload, reservation_status_update::handle).await,
        "SecurityEventNotification" => run(ctx, payload, security_event_notification::handle).await,
        "StatusNotification" => run(ctx, payload, status_notification::handle).await,
        "TransactionEvent" => run(ctx, payload, transaction_event::handle).await,
        other if KNOWN_UNSUPPORTED.contains(&other) => Err(failure(
            ErrorCode::NotSupported,
            format!("{other} is not taken from a Charging Station by this CSMS"),
        )),
        other => Err(failure(
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
        failure(
            ErrorCode::InternalError,
            "the CSMS could not store this message",
        )
    })?;
    serde_json::to_value(response)
        .map_err(|e| failure(ErrorCode::InternalError, format!("encoding failed: {e}")))
}

/// Checks a payload against the PDU of its action and classifies what breaks it the way OCPP-J
/// 2.0.1 §4.3 does: a missing field is an OccurrenceConstraintViolation, a wrong JSON type a
/// TypeConstraintViolation, a value outside its enumeration, range or length a
/// PropertyConstraintViolation, a payload that is no JSON object a FormatViolation.
pub(crate) fn decode<T: Pdu>(station_id: &str, mut payload: Value) -> Result<T, CallFailure> {
    if !payload.is_object() {
        return Err(failure(
            ErrorCode::FormatViolation,
            "payload must be a JSON object",
        ));
    }
    // rust-ocpp's 2.0.1 date-times, like 1.6's, insist on a zone; firmware that omits it means UTC.
    if assume_utc(&mut payload) {
        tracing::warn!(station = %station_id, "timestamp without a time zone taken as UTC");
    }
    let request: T = serde_json::from_value(payload).map_err(|e| classify(&e))?;
    request.check().map_err(|e| {
        failure(
            ErrorCode::PropertyConstraintViolation,
            e.replace('\n', "; "),
        )
    })?;
    Ok(request)
}

fn classify(error: &serde_json::Error) -> CallFailure {
    let message = error.to_string();
    let code = if message.starts_with("missing field") || message.starts_with("duplicate field") {
        ErrorCode::OccurrenceConstraintViolation
    } else if message.starts_with("invalid type") {
        ErrorCode::TypeConstraintViolation
    } else {
        // unknown variant, invalid value, bad date-time format
        ErrorCode::PropertyConstraintViolation
    };
    failure(code, message)
}

/// A 2.0.1 PDU: deserialisable, with the schema's length and range limits that rust-ocpp's
/// 2.0.1 types do not declare checked by hand.
pub(crate) trait Pdu: DeserializeOwned {
    /// Checks the constraints serde cannot express.
    fn check(&self) -> Result<(), String> {
        Ok(())
    }
}

/// A string field within the schema's maximum length.
pub(crate) fn max_len(field: &str, value: &str, max: usize) -> Result<(), String> {
    if value.chars().count() > max {
        return Err(format!("{field} is longer than {max} characters"));
    }
    Ok(())
}

/// An integer field at or above its minimum.
pub(crate) fn at_least(field: &str, value: i32, min: i32) -> Result<(), String> {
    if value < min {
        return Err(format!("{field} must be {min} or more"));
    }
    Ok(())
}

pub(crate) use crate::v16::wire_name;

#[cfg(test)]
mod tests {
    use super::*;
    use rust_ocpp::v2_0_1::messages::status_notification::StatusNotificationRequest;
    use serde_json::json;

    #[test]
    fn frame_errors_get_the_2_0_1_codes() {
        assert_eq!(
            frame_error_code(FrameErrorKind::NotJson),
            ErrorCode::RpcFrameworkError
        );
        assert_eq!(
            frame_error_code(FrameErrorKind::BadShape),
            ErrorCode::RpcFrameworkError
        );
        assert_eq!(
            frame_error_code(FrameErrorKind::UnknownMessageType),
            ErrorCode::MessageTypeNotSupported
        );
    }

    #[test]
    fn classifies_payload_errors_like_the_spec() {
        let code = |v: Value| {
            decode::<StatusNotificationRequest>("CP1", v)
                .unwrap_err()
                .code
        };
        let ok = json!({"timestamp": "2024-05-01T10:00:00Z", "connectorStatus": "Occupied", "evseId": 1, "connectorId": 1});
        assert!(decode::<StatusNotificationRequest>("CP1", ok.clone()).is_ok());
        let mut missing = ok.clone();
        missing.as_object_mut().unwrap().remove("evseId");
        assert_eq!(code(missing), ErrorCode::OccurrenceConstraintViolation);
        assert_eq!(
            ErrorCode::OccurrenceConstraintViolation.as_str(),
            "OccurrenceConstraintViolation"
        );
        let mut wrong_type = ok.clone();
        wrong_type["evseId"] = json!("one");
        assert_eq!(code(wrong_type), ErrorCode::TypeConstraintViolation);
        let mut bad_enum = ok.clone();
        bad_enum["connectorStatus"] = json!("Charging");
        assert_eq!(code(bad_enum), ErrorCode::PropertyConstraintViolation);
        let mut negative = ok.clone();
        negative["connectorId"] = json!(-1);
        assert_eq!(code(negative), ErrorCode::PropertyConstraintViolation);
        assert_eq!(code(json!([1])), ErrorCode::FormatViolation);
        let mut zoneless = ok;
        zoneless["timestamp"] = json!("2024-05-01T10:00:00");
        assert!(decode::<StatusNotificationRequest>("CP1", zoneless).is_ok());
    }
}
