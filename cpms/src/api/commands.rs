//! CSMS-initiated commands: `POST /api/stations/{id}/commands/{command}` sends the command to the
//! station and answers with the station's reply, or with 409 (offline), 504 (no answer in time) or
//! 502 (the station answered with a CALLERROR or an invalid payload).

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use ocpp_gateway::port::{Command, CommandError, CommandReply, EvseRef, ResetKind};
use serde::de::DeserializeOwned;
use serde::Deserialize;

use super::{ApiError, ApiState};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RemoteStart {
    id_token: String,
    #[serde(default)]
    evse_id: Option<i32>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RemoteStop {
    transaction_id: i64,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Reset {
    #[serde(rename = "type")]
    kind: ResetKind,
}

#[derive(Deserialize)]
enum Availability {
    Operative,
    Inoperative,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ChangeAvailability {
    #[serde(default)]
    evse_id: i32,
    #[serde(rename = "type")]
    kind: Availability,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ChangeConfiguration {
    key: String,
    value: String,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct GetConfiguration {
    #[serde(default)]
    keys: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Unlock {
    evse_id: i32,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Trigger {
    message: String,
    #[serde(default)]
    evse_id: Option<i32>,
}

/// The EVSE reference for an operator-given EVSE id (connector 1 of it, or the station for 0).
fn evse(evse_id: i32) -> Result<EvseRef, ApiError> {
    if evse_id < 0 {
        return Err(ApiError::bad_request("evse_id must be 0 or more"));
    }
    Ok(EvseRef {
        evse_id,
        connector_id: i32::from(evse_id > 0),
    })
}

fn body<T: DeserializeOwned>(bytes: &Bytes) -> Result<T, ApiError> {
    // An empty body means "no parameters" for commands that have none or only optional ones.
    let bytes: &[u8] = if bytes.iter().all(u8::is_ascii_whitespace) {
        b"{}"
    } else {
        bytes
    };
    serde_json::from_slice(bytes).map_err(|e| ApiError::bad_request(format!("invalid body: {e}")))
}

/// Translates the route's command name and body into a [`Command`].
fn parse(name: &str, bytes: &Bytes) -> Result<Command, ApiError> {
    Ok(match name {
        "remote-start" => {
            let b: RemoteStart = body(bytes)?;
            Command::RemoteStart {
                evse: b.evse_id.map(evse).transpose()?,
                id_token: b.id_token,
            }
        }
        "remote-stop" => Command::RemoteStop {
            transaction_id: body::<RemoteStop>(bytes)?.transaction_id,
        },
        "reset" => Command::Reset {
            kind: body::<Reset>(bytes)?.kind,
        },
        "change-availability" => {
            let b: ChangeAvailability = body(bytes)?;
            Command::ChangeAvailability {
                evse: evse(b.evse_id)?,
                operative: matches!(b.kind, Availability::Operative),
            }
        }
        "change-configuration" => {
            let b: ChangeConfiguration = body(bytes)?;
            Command::ChangeConfiguration {
                key: b.key,
                value: b.value,
            }
        }
        "get-configuration" => Command::GetConfiguration {
            keys: body::<GetConfiguration>(bytes)?.keys,
        },
        "unlock-connector" => Command::UnlockConnector {
            evse: evse(body::<Unlock>(bytes)?.evse_id)?,
        },
        "trigger-message" => {
            let b: Trigger = body(bytes)?;
            Command::TriggerMessage {
                message: b.message,
                evse: b.evse_id.map(evse).transpose()?,
            }
        }
        "clear-cache" => Command::ClearCache,
        other => return Err(ApiError::not_found(format!("no command {other}"))),
    })
}

pub async fn send(
    State(state): State<ApiState>,
    Path((station_id, name)): Path<(String, String)>,
    bytes: Bytes,
) -> Result<Json<CommandReply>, ApiError> {
    let command = parse(&name, &bytes)?;
    state.core.station(&station_id).await?;
    state
        .gateway
        .call(&station_id, command)
        .await
        .map(Json)
        .map_err(|e| {
            let status = match &e {
                CommandError::Offline(_) => StatusCode::CONFLICT,
                CommandError::Timeout(_) => StatusCode::GATEWAY_TIMEOUT,
                CommandError::Unsupported(_) => StatusCode::UNPROCESSABLE_ENTITY,
                CommandError::CallError { .. }
                | CommandError::InvalidReply(_)
                | CommandError::Closed => StatusCode::BAD_GATEWAY,
            };
            let code = match &e {
                CommandError::Offline(_) => "station_offline",
                CommandError::Timeout(_) => "station_timeout",
                CommandError::Unsupported(_) => "unsupported",
                CommandError::CallError { .. } => "station_call_error",
                CommandError::InvalidReply(_) => "station_invalid_reply",
                CommandError::Closed => "station_disconnected",
            };
            ApiError::new(status, code, e.to_string())
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_parse_from_route_and_body() {
        let b = |s: &'static str| Bytes::from_static(s.as_bytes());
        assert_eq!(
            parse("remote-start", &b(r#"{"id_token":"T","evse_id":2}"#)).unwrap(),
            Command::RemoteStart {
                evse: Some(EvseRef {
                    evse_id: 2,
                    connector_id: 1
                }),
                id_token: "T".into()
            }
        );
        assert_eq!(parse("clear-cache", &b("")).unwrap(), Command::ClearCache);
        assert_eq!(
            parse("get-configuration", &b("")).unwrap(),
            Command::GetConfiguration { keys: vec![] }
        );
        assert!(parse("reset", &b(r#"{"type":"Warm"}"#)).is_err());
        assert!(parse("remote-start", &b(r#"{"idTag":"T"}"#)).is_err());
        assert!(parse("fly", &b("{}")).is_err());
    }
}
