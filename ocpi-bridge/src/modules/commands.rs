//! Commands module, CPO Receiver interface (OCPI 2.2.1 Commands: Receiver interface):
//! `POST /ocpi/2.2.1/commands/{command}`, answered at once with a CommandResponse; the
//! CommandResult follows as a POST to the command's `response_url`, delivered durably by the
//! push worker through the outbox ([`deliver_result`]).
//!
//! The bridge parses and validates the command objects (2001 with HTTP 400 when they are not
//! what the spec describes); whether the command can go to a station is the core's decision,
//! behind the [`crate::port::commands::CommandReceiver`] port.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::Value;

use crate::port::commands::{
    CommandAnswer, CommandRequest, CommandResponseType, CommandResultType, CommandType,
};
use crate::port::outbox::OutboxRow;
use crate::port::Partner;
use crate::transport::{OcpiError, OcpiResponse};
use crate::Bridge;

/// DisplayText class (Types: DisplayText class).
#[derive(Debug, Clone, Serialize)]
struct DisplayText {
    language: &'static str,
    text: String,
}

/// CommandResponse object (Commands: CommandResponse object).
#[derive(Debug, Clone, Serialize)]
struct CommandResponse {
    result: CommandResponseType,
    timeout: u32,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    message: Vec<DisplayText>,
}

/// CommandResult object (Commands: CommandResult object).
#[derive(Debug, Clone, Serialize)]
struct CommandResult {
    result: CommandResultType,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    message: Vec<DisplayText>,
}

/// DisplayText `text` is string(512) (Types: DisplayText class).
fn display(message: Option<String>) -> Vec<DisplayText> {
    message
        .map(|m| DisplayText {
            language: "en",
            text: m.chars().take(512).collect(),
        })
        .into_iter()
        .collect()
}

fn object<T: DeserializeOwned>(body: &Bytes, name: &str) -> Result<T, OcpiError> {
    serde_json::from_slice(body)
        .map_err(|e| OcpiError::bad_request(format!("not a {name} object: {e}")))
}

/// A CiString(36) field (Commands: the command objects' ids).
fn ci_string(field: &str, value: &str) -> Result<(), OcpiError> {
    if value.is_empty() || value.chars().count() > 36 || !value.is_ascii() {
        return Err(OcpiError::bad_request(format!(
            "{field} must be 1 to 36 ASCII characters"
        )));
    }
    Ok(())
}

fn optional_ci_string(field: &str, value: Option<&str>) -> Result<(), OcpiError> {
    value.map_or(Ok(()), |v| ci_string(field, v))
}

/// The `response_url` must be an absolute http(s) URL (Types: URL type); whether we may fetch
/// it is the URL policy's question when the result is sent.
fn response_url(url: &str) -> Result<(), OcpiError> {
    match url::Url::parse(url) {
        Ok(u) if matches!(u.scheme(), "http" | "https") && u.host().is_some() => Ok(()),
        _ => Err(OcpiError::bad_request(
            "response_url must be an absolute http(s) URL",
        )),
    }
}

/// Parses and validates the body of `command`.
fn parse(command: CommandType, body: &Bytes) -> Result<CommandRequest, OcpiError> {
    let request = match command {
        CommandType::StartSession => {
            let c: crate::port::commands::StartSession = object(body, "StartSession")?;
            c.token.validate().map_err(OcpiError::bad_request)?;
            ci_string("location_id", &c.location_id)?;
            optional_ci_string("evse_uid", c.evse_uid.as_deref())?;
            optional_ci_string("connector_id", c.connector_id.as_deref())?;
            optional_ci_string(
                "authorization_reference",
                c.authorization_reference.as_deref(),
            )?;
            // Commands: StartSession object: evse_uid is required when connector_id is set.
            if c.connector_id.is_some() && c.evse_uid.is_none() {
                return Err(OcpiError::bad_request("connector_id needs an evse_uid"));
            }
            CommandRequest::StartSession(c)
        }
        CommandType::StopSession => {
            let c: crate::port::commands::StopSession = object(body, "StopSession")?;
            ci_string("session_id", &c.session_id)?;
            CommandRequest::StopSession(c)
        }
        CommandType::UnlockConnector => {
            let c: crate::port::commands::UnlockConnector = object(body, "UnlockConnector")?;
            ci_string("location_id", &c.location_id)?;
            ci_string("evse_uid", &c.evse_uid)?;
            ci_string("connector_id", &c.connector_id)?;
            CommandRequest::UnlockConnector(c)
        }
        CommandType::ReserveNow => {
            let c: crate::port::commands::ReserveNow = object(body, "ReserveNow")?;
            c.token.validate().map_err(OcpiError::bad_request)?;
            ci_string("reservation_id", &c.reservation_id)?;
            ci_string("location_id", &c.location_id)?;
            optional_ci_string("evse_uid", c.evse_uid.as_deref())?;
            optional_ci_string(
                "authorization_reference",
                c.authorization_reference.as_deref(),
            )?;
            CommandRequest::ReserveNow(c)
        }
        CommandType::CancelReservation => {
            let c: crate::port::commands::CancelReservation = object(body, "CancelReservation")?;
            ci_string("reservation_id", &c.reservation_id)?;
            CommandRequest::CancelReservation(c)
        }
    };
    response_url(request.response_url())?;
    Ok(request)
}

fn respond(answer: CommandAnswer) -> Result<OcpiResponse, OcpiError> {
    OcpiResponse::ok(CommandResponse {
        result: answer.result,
        timeout: answer.timeout_seconds,
        message: display(answer.message),
    })
}

/// `POST {commands}/{command}`: a CommandResponse at once. A command name that is no
/// CommandType is answered NOT_SUPPORTED (Commands: CommandResponseType enum).
pub async fn post(
    State(bridge): State<Bridge>,
    headers: HeaderMap,
    Path(command): Path<String>,
    body: Bytes,
) -> Result<OcpiResponse, OcpiError> {
    let partner = bridge.authenticate_registered(&headers).await?;
    let receiver = bridge.command_receiver()?;
    let Some(command) = CommandType::parse(&command) else {
        return respond(CommandAnswer {
            result: CommandResponseType::NotSupported,
            timeout_seconds: 0,
            message: Some(format!("{command} is not a command we support")),
        });
    };
    let request = parse(command, &body)?;
    let answer = receiver
        .submit(&partner, request)
        .await
        .map_err(|e| OcpiError::internal(e.to_string()))?;
    respond(answer)
}

/// How the delivery of one CommandResult went.
pub(crate) enum ResultDelivery {
    /// The eMSP took it (or nothing is owed).
    Delivered,
    /// Worth trying again.
    Retry(String),
    /// Will never work as it stands.
    Park(String),
}

/// POSTs the CommandResult of the outbox row's command to its `response_url`, with the
/// partner's token (Commands: Sender interface, POST). The URL is the eMSP's, so it passes the
/// URL policy like every partner URL.
pub(crate) async fn deliver_result(
    bridge: &Bridge,
    row: &OutboxRow,
    partner: &Partner,
) -> ResultDelivery {
    let receiver = match bridge.command_receiver() {
        Ok(r) => r,
        Err(e) => return ResultDelivery::Retry(e.message),
    };
    let outcome = match receiver.outcome(&row.object_key).await {
        Ok(Some(o)) => o,
        // Written with its result; a row without one is a corrupted row.
        Ok(None) => return ResultDelivery::Park("no result for this command".into()),
        Err(e) => return ResultDelivery::Retry(e.to_string()),
    };
    let token = match crate::push::partner_token(bridge, partner) {
        Ok(token) => token,
        Err(why) => return ResultDelivery::Park(why),
    };
    let body = CommandResult {
        result: outcome.result,
        message: display(outcome.message),
    };
    let routing = bridge.routing_to(partner.roles.first());
    let sent: Result<Value, _> = bridge
        .client()
        .send(
            reqwest::Method::POST,
            &outcome.response_url,
            &token,
            &routing,
            Some(&body),
        )
        .await;
    match sent {
        Ok(_) => ResultDelivery::Delivered,
        Err(e) => ResultDelivery::Retry(e.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bytes(v: serde_json::Value) -> Bytes {
        Bytes::from(v.to_string())
    }

    fn token() -> serde_json::Value {
        serde_json::json!({
            "country_code": "DE", "party_id": "EMS", "uid": "APP1", "type": "APP_USER",
            "contract_id": "DE-EMS-1", "issuer": "eMSP", "valid": true, "whitelist": "NEVER",
            "last_updated": "2026-01-01T00:00:00Z",
        })
    }

    #[test]
    fn a_start_session_parses_and_bad_ones_are_refused() {
        let ok = parse(
            CommandType::StartSession,
            &bytes(serde_json::json!({
                "response_url": "https://e.example/cmd/1", "token": token(),
                "location_id": "L1", "evse_uid": "E1", "authorization_reference": "REF",
            })),
        )
        .unwrap();
        assert_eq!(ok.command_type(), CommandType::StartSession);
        for bad in [
            serde_json::json!({"response_url": "https://e.example/cmd/1", "location_id": "L1"}),
            serde_json::json!({"response_url": "not a url", "token": token(), "location_id": "L1"}),
            serde_json::json!({"response_url": "https://e.example/1", "token": token(),
                               "location_id": "L1", "connector_id": "1"}),
            serde_json::json!({"response_url": "https://e.example/1", "token": token(),
                               "location_id": "x".repeat(37)}),
        ] {
            let e = parse(CommandType::StartSession, &bytes(bad.clone())).unwrap_err();
            assert_eq!(e.http, axum::http::StatusCode::BAD_REQUEST, "{bad}");
        }
    }

    #[test]
    fn command_names_are_the_spec_names() {
        assert_eq!(
            CommandType::parse("CANCEL_RESERVATION"),
            Some(CommandType::CancelReservation)
        );
        assert_eq!(CommandType::parse("start_session"), None);
        assert_eq!(
            CommandResultType::parse("EVSE_OCCUPIED"),
            Some(CommandResultType::EvseOccupied)
        );
    }
}
