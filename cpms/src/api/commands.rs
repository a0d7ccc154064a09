//! CSMS-initiated commands: `POST /api/stations/{id}/commands/{command}` sends the command to the
//! station and answers with the station's reply, or with 409 (offline), 504 (no answer in time) or
//! 502 (the station answered with a CALLERROR or an invalid payload).

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use ocpp_gateway::port::{
    Command, CommandError, CommandReply, EvseRef, ResetKind, VariableRef, VariableSetting,
};
use serde::de::DeserializeOwned;
use serde::Deserialize;

use super::{ApiError, ApiState};
use crate::core::ReservationRequest;

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

#[derive(Deserialize)]
enum AttributeType {
    Actual,
    Target,
    MinSet,
    MaxSet,
}

impl AttributeType {
    fn as_str(&self) -> &'static str {
        match self {
            AttributeType::Actual => "Actual",
            AttributeType::Target => "Target",
            AttributeType::MinSet => "MinSet",
            AttributeType::MaxSet => "MaxSet",
        }
    }
}

/// One variable attribute of a station's device model, as the operator names it.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Variable {
    component: String,
    #[serde(default)]
    component_instance: Option<String>,
    #[serde(default)]
    evse_id: Option<i32>,
    #[serde(default)]
    connector_id: Option<i32>,
    variable: String,
    #[serde(default)]
    variable_instance: Option<String>,
    #[serde(default)]
    attribute_type: Option<AttributeType>,
}

impl Variable {
    fn into_ref(self) -> Result<VariableRef, ApiError> {
        if self.evse_id.is_some_and(|e| e < 1) || self.connector_id.is_some_and(|c| c < 1) {
            return Err(ApiError::bad_request(
                "evse_id and connector_id of a component start at 1",
            ));
        }
        if self.connector_id.is_some() && self.evse_id.is_none() {
            return Err(ApiError::bad_request("connector_id needs an evse_id"));
        }
        Ok(VariableRef {
            component: self.component,
            component_instance: self.component_instance,
            evse: self.evse_id.map(|evse_id| EvseRef {
                evse_id,
                connector_id: self.connector_id.unwrap_or(0),
            }),
            variable: self.variable,
            variable_instance: self.variable_instance,
            attribute_type: self.attribute_type.map(|a| a.as_str().to_owned()),
        })
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct GetVariables {
    variables: Vec<Variable>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SetVariables {
    /// Each a [`Variable`] with a string `value`.
    variables: Vec<serde_json::Value>,
}

/// One entry of `set-variables`: the `value` taken out, the rest read as a [`Variable`] (serde's
/// `flatten` cannot be combined with `deny_unknown_fields`).
fn variable_setting(mut item: serde_json::Value) -> Result<VariableSetting, ApiError> {
    let value = item
        .as_object_mut()
        .and_then(|o| o.remove("value"))
        .and_then(|v| v.as_str().map(str::to_owned))
        .ok_or_else(|| ApiError::bad_request("each variable needs a string value"))?;
    let variable: Variable = serde_json::from_value(item)
        .map_err(|e| ApiError::bad_request(format!("invalid body: {e}")))?;
    Ok(VariableSetting {
        variable: variable.into_ref()?,
        value,
    })
}

// The variants are the OCPP 2.0.1 ReportBaseEnumType values, which all end in "Inventory".
#[allow(clippy::enum_variant_names)]
#[derive(Deserialize)]
enum ReportBase {
    ConfigurationInventory,
    FullInventory,
    SummaryInventory,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct GetBaseReport {
    report_base: ReportBase,
    #[serde(default)]
    request_id: Option<i32>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ReserveNow {
    id_token: String,
    expiry_date: chrono::DateTime<chrono::Utc>,
    #[serde(default)]
    evse_id: Option<i32>,
    #[serde(default)]
    reservation_id: Option<i32>,
    #[serde(default)]
    group_id_token: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CancelReservation {
    reservation_id: i32,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct UpdateFirmware {
    location: String,
    retrieve_date: chrono::DateTime<chrono::Utc>,
    #[serde(default)]
    retries: Option<i32>,
    #[serde(default)]
    retry_interval: Option<i32>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct GetDiagnostics {
    location: String,
    #[serde(default)]
    start_time: Option<chrono::DateTime<chrono::Utc>>,
    #[serde(default)]
    stop_time: Option<chrono::DateTime<chrono::Utc>>,
}

/// A fresh positive id for requests whose answers come back later (remoteStartId, requestId);
/// random, so ids from before a restart are not reused.
fn request_id() -> i32 {
    i32::try_from(rand::random::<u32>() >> 1)
        .unwrap_or(i32::MAX)
        .max(1)
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
                remote_start_id: Some(request_id()),
            }
        }
        "remote-stop" => Command::RemoteStop {
            transaction_id: body::<RemoteStop>(bytes)?.transaction_id,
            // Filled in from the stored transaction by `send`.
            station_transaction_id: None,
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
        "get-variables" => {
            let b: GetVariables = body(bytes)?;
            if b.variables.is_empty() {
                return Err(ApiError::bad_request("variables must not be empty"));
            }
            Command::GetVariables {
                variables: b
                    .variables
                    .into_iter()
                    .map(Variable::into_ref)
                    .collect::<Result<_, _>>()?,
            }
        }
        "set-variables" => {
            let b: SetVariables = body(bytes)?;
            if b.variables.is_empty() {
                return Err(ApiError::bad_request("variables must not be empty"));
            }
            Command::SetVariables {
                variables: b
                    .variables
                    .into_iter()
                    .map(variable_setting)
                    .collect::<Result<_, ApiError>>()?,
            }
        }
        "get-base-report" => {
            let b: GetBaseReport = body(bytes)?;
            Command::GetBaseReport {
                request_id: b.request_id.unwrap_or_else(request_id),
                report_base: match b.report_base {
                    ReportBase::ConfigurationInventory => "ConfigurationInventory",
                    ReportBase::FullInventory => "FullInventory",
                    ReportBase::SummaryInventory => "SummaryInventory",
                }
                .to_owned(),
            }
        }
        "get-local-list-version" => Command::GetLocalListVersion,
        "reserve-now" => {
            let b: ReserveNow = body(bytes)?;
            Command::ReserveNow {
                // Random like remoteStartId when the operator gives none; `send` refuses an id
                // the station already has from us.
                reservation_id: b.reservation_id.unwrap_or_else(request_id),
                evse: b.evse_id.filter(|id| *id > 0).map(evse).transpose()?,
                id_token: b.id_token,
                group_id_token: b.group_id_token,
                expiry_date: b.expiry_date,
            }
        }
        "cancel-reservation" => Command::CancelReservation {
            reservation_id: body::<CancelReservation>(bytes)?.reservation_id,
        },
        "update-firmware" => {
            let b: UpdateFirmware = body(bytes)?;
            Command::UpdateFirmware {
                request_id: request_id(),
                location: b.location,
                retrieve_date: b.retrieve_date,
                retries: b.retries,
                retry_interval: b.retry_interval,
            }
        }
        "get-diagnostics" => {
            let b: GetDiagnostics = body(bytes)?;
            Command::GetDiagnostics {
                request_id: request_id(),
                location: b.location,
                start_time: b.start_time,
                stop_time: b.stop_time,
            }
        }
        "clear-charging-profile" => super::charging_profiles::clear_command(bytes)?,
        "get-composite-schedule" => super::charging_profiles::composite_command(bytes)?,
        other => return Err(ApiError::not_found(format!("no command {other}"))),
    })
}

pub async fn send(
    State(state): State<ApiState>,
    Path((station_id, name)): Path<(String, String)>,
    bytes: Bytes,
) -> Result<Json<CommandReply>, ApiError> {
    let mut command = parse(&name, &bytes)?;
    state.core.station(&station_id).await?;
    // A 2.0.1 station knows its transactions by its own ids; the gateway holds no business
    // state, so the core resolves ours into the station's here.
    if let Command::RemoteStop {
        transaction_id,
        station_transaction_id,
    } = &mut command
    {
        *station_transaction_id = state.core.station_transaction_id(*transaction_id).await?;
    }
    before_call(&state, &station_id, &command).await?;
    let reply = state
        .gateway
        .call(&station_id, command.clone())
        .await
        .map_err(command_error)?;
    after_reply(&state, &station_id, &command, &reply).await?;
    super::charging_profiles::after_reply(&state, &station_id, &command, &reply).await?;
    Ok(Json(reply))
}

/// Checks what the core must check before a reservation reaches the station: a token the
/// station's OCPP version can carry (400) and a reservation id it does not have yet (409).
async fn before_call(
    state: &ApiState,
    station_id: &str,
    command: &Command,
) -> Result<(), ApiError> {
    if let Command::ReserveNow {
        reservation_id,
        id_token,
        group_id_token,
        ..
    } = command
    {
        state
            .core
            .check_token_for_station(station_id, id_token)
            .await?;
        if let Some(group) = group_id_token {
            state
                .core
                .check_token_for_station(station_id, group)
                .await?;
        }
        state
            .core
            .check_reservation_id_free(station_id, *reservation_id)
            .await?;
    }
    Ok(())
}

/// Stores what the station's answer changed: a reservation with its status, a cancelled
/// reservation, the requestId of an accepted firmware update or log upload.
async fn after_reply(
    state: &ApiState,
    station_id: &str,
    command: &Command,
    reply: &CommandReply,
) -> Result<(), ApiError> {
    let status = match reply {
        CommandReply::Status { status } => Some(status.as_str()),
        CommandReply::Log { status, .. } => status.as_deref(),
        _ => None,
    };
    match (command, status) {
        (
            Command::ReserveNow {
                reservation_id,
                evse,
                id_token,
                group_id_token,
                expiry_date,
            },
            Some(status),
        ) => {
            let request = ReservationRequest {
                reservation_id: *reservation_id,
                evse_id: evse.map(|e| e.evse_id),
                id_token: id_token.clone(),
                group_id_token: group_id_token.clone(),
                expiry_date: *expiry_date,
            };
            state
                .core
                .record_reservation(station_id, request, status)
                .await?;
        }
        (Command::CancelReservation { reservation_id }, Some("Accepted")) => {
            state
                .core
                .cancel_reservation(station_id, *reservation_id)
                .await?;
        }
        // 1.6 answers UpdateFirmware without a status (reported here as Accepted); 2.0.1 L01
        // also has AcceptedCanceled (a running update was cancelled for this one).
        (Command::UpdateFirmware { request_id, .. }, Some(s)) if s.starts_with("Accepted") => {
            state
                .core
                .record_progress_request(station_id, Some(*request_id), None)
                .await?;
        }
        // 1.6 GetDiagnostics has no status: any answer is acceptance (§6.27).
        (Command::GetDiagnostics { request_id, .. }, s)
            if s.is_none_or(|s| s.starts_with("Accepted")) =>
        {
            state
                .core
                .record_progress_request(station_id, None, Some(*request_id))
                .await?;
        }
        _ => {}
    }
    Ok(())
}

/// The HTTP answer for a command the station did not answer properly.
pub(super) fn command_error(e: CommandError) -> ApiError {
    let status = match &e {
        CommandError::Offline(_) => StatusCode::CONFLICT,
        CommandError::Timeout(_) => StatusCode::GATEWAY_TIMEOUT,
        CommandError::Unsupported(_) => StatusCode::UNPROCESSABLE_ENTITY,
        CommandError::CallError { .. } | CommandError::InvalidReply(_) | CommandError::Closed => {
            StatusCode::BAD_GATEWAY
        }
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
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_parse_from_route_and_body() {
        let b = |s: &'static str| Bytes::from_static(s.as_bytes());
        match parse("remote-start", &b(r#"{"id_token":"T","evse_id":2}"#)).unwrap() {
            Command::RemoteStart {
                evse,
                id_token,
                remote_start_id,
            } => {
                assert_eq!(
                    evse,
                    Some(EvseRef {
                        evse_id: 2,
                        connector_id: 1
                    })
                );
                assert_eq!(id_token, "T");
                assert!(remote_start_id.is_some_and(|id| id > 0));
            }
            other => panic!("{other:?}"),
        }
        match parse(
            "set-variables",
            &b(r#"{"variables":[{"component":"C","variable":"V","evse_id":1,"value":"x"}]}"#),
        )
        .unwrap()
        {
            Command::SetVariables { variables } => {
                assert_eq!(variables[0].value, "x");
                assert_eq!(variables[0].variable.evse.map(|e| e.evse_id), Some(1));
            }
            other => panic!("{other:?}"),
        }
        assert!(parse(
            "set-variables",
            &b(r#"{"variables":[{"component":"C","variable":"V"}]}"#)
        )
        .is_err());
        assert!(parse(
            "get-variables",
            &b(r#"{"variables":[{"component":"C","variable":"V","attribute_type":"Now"}]}"#)
        )
        .is_err());
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
