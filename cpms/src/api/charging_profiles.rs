//! Smart charging in the operator API, one model for OCPP 1.6 and 2.0.1 stations:
//! `POST /api/stations/{id}/charging-profiles` installs a profile (SetChargingProfile) and stores it
//! once the station accepted it, `GET` lists what the CPMS believes installed, and `DELETE
//! .../charging-profiles/{profile_id}` clears one (ClearChargingProfile). The commands
//! `clear-charging-profile` and `get-composite-schedule` are parsed here for
//! `POST /api/stations/{id}/commands/{command}`.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use ocpp_gateway::port::{
    ChargingProfile, ChargingProfileCriteria, ChargingRateUnit, Command, CommandReply,
};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use super::{ApiError, ApiState, JsonBody};
use crate::core::ChargingProfileRecord;

/// The body of `POST /api/stations/{id}/charging-profiles`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SetProfile {
    evse_id: i32,
    profile: ChargingProfile,
}

/// The answer to setting or clearing a profile: the station's status, and what was stored.
#[derive(Serialize)]
pub struct ProfileAnswer {
    /// The station's status, verbatim (`Accepted`, `Rejected`, `NotSupported`, `Unknown`).
    status: String,
    /// The profile as stored, when the station accepted it.
    #[serde(skip_serializing_if = "Option::is_none")]
    installed: Option<ChargingProfileRecord>,
    /// How many stored profiles a clear removed.
    #[serde(skip_serializing_if = "Option::is_none")]
    removed: Option<u64>,
}

/// The stored profiles of a station.
#[derive(Serialize)]
pub struct Profiles {
    /// The profiles, by EVSE and profile id.
    items: Vec<ChargingProfileRecord>,
}

fn status_of(reply: &CommandReply) -> Option<&str> {
    match reply {
        CommandReply::Status { status } => Some(status),
        _ => None,
    }
}

/// `POST /api/stations/{id}/charging-profiles`: 201 with the stored profile when the station
/// accepted it, 200 with the station's status when it did not (nothing stored).
pub async fn set(
    State(state): State<ApiState>,
    Path(station_id): Path<String>,
    JsonBody(body): JsonBody<SetProfile>,
) -> Result<(StatusCode, Json<ProfileAnswer>), ApiError> {
    body.profile
        .validate(body.evse_id)
        .map_err(ApiError::bad_request)?;
    state.core.station(&station_id).await?;
    // A TxProfile names our transaction; a 2.0.1 station knows it by its own id, which only the
    // core has (the gateway holds no business state).
    let station_transaction_id = match body.profile.transaction_id {
        Some(tx) => {
            state
                .core
                .charging_profile_transaction(&station_id, body.evse_id, tx)
                .await?
        }
        None => None,
    };
    let reply = state
        .gateway
        .call(
            &station_id,
            Command::SetChargingProfile {
                evse_id: body.evse_id,
                profile: body.profile.clone(),
                station_transaction_id,
            },
        )
        .await
        .map_err(super::commands::command_error)?;
    let status = status_of(&reply).unwrap_or_default().to_owned();
    if status != "Accepted" {
        return Ok((
            StatusCode::OK,
            Json(ProfileAnswer {
                status,
                installed: None,
                removed: None,
            }),
        ));
    }
    let installed = state
        .core
        .record_charging_profile(&station_id, body.evse_id, &body.profile)
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(ProfileAnswer {
            status,
            installed: Some(installed),
            removed: None,
        }),
    ))
}

/// `GET /api/stations/{id}/charging-profiles`.
pub async fn list(
    State(state): State<ApiState>,
    Path(station_id): Path<String>,
) -> Result<Json<Profiles>, ApiError> {
    state.core.station(&station_id).await?;
    Ok(Json(Profiles {
        items: state.core.charging_profiles(&station_id).await?,
    }))
}

/// `DELETE /api/stations/{id}/charging-profiles/{profile_id}`: ClearChargingProfile by id; the
/// stored profile is removed when the station answers Accepted.
pub async fn delete(
    State(state): State<ApiState>,
    Path((station_id, profile_id)): Path<(String, i32)>,
) -> Result<Json<ProfileAnswer>, ApiError> {
    state.core.station(&station_id).await?;
    let criteria = ChargingProfileCriteria {
        id: Some(profile_id),
        ..Default::default()
    };
    let reply = state
        .gateway
        .call(
            &station_id,
            Command::ClearChargingProfile {
                criteria: criteria.clone(),
            },
        )
        .await
        .map_err(super::commands::command_error)?;
    let status = status_of(&reply).unwrap_or_default().to_owned();
    let removed = if status == "Accepted" {
        Some(
            state
                .core
                .forget_charging_profiles(&station_id, &criteria)
                .await?,
        )
    } else {
        None
    };
    Ok(Json(ProfileAnswer {
        status,
        installed: None,
        removed,
    }))
}

fn body<T: DeserializeOwned>(bytes: &Bytes) -> Result<T, ApiError> {
    let bytes: &[u8] = if bytes.iter().all(u8::is_ascii_whitespace) {
        b"{}"
    } else {
        bytes
    };
    serde_json::from_slice(bytes).map_err(|e| ApiError::bad_request(format!("invalid body: {e}")))
}

/// The `clear-charging-profile` command: `{"id"}` or any of `{"evse_id", "purpose",
/// "stack_level"}` (an empty body clears every profile).
pub(super) fn clear_command(bytes: &Bytes) -> Result<Command, ApiError> {
    let criteria: ChargingProfileCriteria = body(bytes)?;
    if criteria.id.is_some()
        && (criteria.evse_id.is_some()
            || criteria.purpose.is_some()
            || criteria.stack_level.is_some())
    {
        return Err(ApiError::bad_request(
            "clear either by id or by evse_id, purpose and stack_level",
        ));
    }
    if criteria.evse_id.is_some_and(|e| e < 0) || criteria.stack_level.is_some_and(|s| s < 0) {
        return Err(ApiError::bad_request(
            "evse_id and stack_level must be 0 or more",
        ));
    }
    Ok(Command::ClearChargingProfile { criteria })
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CompositeRequest {
    evse_id: i32,
    duration: i32,
    #[serde(default)]
    charging_rate_unit: Option<ChargingRateUnit>,
}

/// The `get-composite-schedule` command: `{"evse_id", "duration", "charging_rate_unit"?}`.
pub(super) fn composite_command(bytes: &Bytes) -> Result<Command, ApiError> {
    let b: CompositeRequest = body(bytes)?;
    if b.evse_id < 0 {
        return Err(ApiError::bad_request("evse_id must be 0 or more"));
    }
    if b.duration <= 0 {
        return Err(ApiError::bad_request("duration must be positive"));
    }
    Ok(Command::GetCompositeSchedule {
        evse_id: b.evse_id,
        duration: b.duration,
        charging_rate_unit: b.charging_rate_unit,
    })
}

/// After `clear-charging-profile` was accepted, forgets the stored profiles it cleared.
pub(super) async fn after_reply(
    state: &ApiState,
    station_id: &str,
    command: &Command,
    reply: &CommandReply,
) -> Result<(), ApiError> {
    if let Command::ClearChargingProfile { criteria } = command {
        if status_of(reply) == Some("Accepted") {
            state
                .core
                .forget_charging_profiles(station_id, criteria)
                .await?;
        }
    }
    Ok(())
}
