//! Local authorization lists and reservations of a station:
//! `GET|POST /api/stations/{id}/local-list` and `GET /api/stations/{id}/reservations`.

use axum::extract::{Path, State};
use axum::Json;
use ocpp_gateway::port::{AuthorizationStatus, CommandReply, LocalListEntry, LocalListUpdate};
use serde::{Deserialize, Serialize};

use super::commands::command_error;
use super::{ApiError, ApiState, JsonBody};
use crate::core::{LocalListRecord, ReservationRecord};

/// One entry as the operator gives it; without `status` (Differential only) it removes the token.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EntryBody {
    id_token: String,
    #[serde(default)]
    status: Option<AuthorizationStatus>,
    #[serde(default)]
    expiry_date: Option<chrono::DateTime<chrono::Utc>>,
    #[serde(default)]
    group_id_token: Option<String>,
}

/// The body of `POST /api/stations/{id}/local-list`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LocalListBody {
    update_type: LocalListUpdate,
    /// For a Full update, absent means the operator's id tokens.
    #[serde(default)]
    entries: Option<Vec<EntryBody>>,
}

/// The answer to `POST /api/stations/{id}/local-list`: the station's status and the list the
/// CPMS now believes it holds.
#[derive(Serialize)]
pub struct LocalListAnswer {
    /// `Accepted`, `Failed`, `NotSupported` or `VersionMismatch`, as the station sent it.
    status: String,
    /// The version sent.
    sent_version: i32,
    /// The list as stored after the answer.
    local_list: LocalListRecord,
}

/// The local list the CPMS believes the station holds.
pub async fn get(
    State(state): State<ApiState>,
    Path(station_id): Path<String>,
) -> Result<Json<LocalListRecord>, ApiError> {
    Ok(Json(state.core.local_list(&station_id).await?))
}

/// Sends a Full or Differential update and stores it once the station accepted it.
pub async fn send(
    State(state): State<ApiState>,
    Path(station_id): Path<String>,
    JsonBody(body): JsonBody<LocalListBody>,
) -> Result<Json<LocalListAnswer>, ApiError> {
    let entries = body.entries.map(|entries| {
        entries
            .into_iter()
            .map(|e| LocalListEntry {
                id_token: e.id_token,
                status: e.status,
                expiry_date: e.expiry_date,
                group_id_token: e.group_id_token,
            })
            .collect()
    });
    // Held until the answer is recorded: the roaming sync updates the same list, and both
    // count its version up from what is stored (`core/local_lists.rs`).
    let _guard = state.core.local_list_lock(&station_id).await;
    let plan = state
        .core
        .plan_local_list(&station_id, body.update_type, entries)
        .await?;
    let reply = state
        .gateway
        .call(&station_id, plan.command.clone())
        .await
        .map_err(command_error)?;
    let CommandReply::Status { status } = reply else {
        return Err(command_error(
            ocpp_gateway::port::CommandError::InvalidReply(
                "SendLocalList answered without a status".into(),
            ),
        ));
    };
    state
        .core
        .local_list_answered(&station_id, &plan, &status)
        .await?;
    Ok(Json(LocalListAnswer {
        status,
        sent_version: plan.version,
        local_list: state.core.local_list(&station_id).await?,
    }))
}

/// The station's reservations, newest first.
pub async fn reservations(
    State(state): State<ApiState>,
    Path(station_id): Path<String>,
) -> Result<Json<Vec<ReservationRecord>>, ApiError> {
    Ok(Json(state.core.reservations(&station_id).await?))
}
