//! Stations: create, list, get, update, connectors with live status.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use ocpp_gateway::port::RegistrationStatus;
use serde::{Deserialize, Serialize};

use super::{ApiError, ApiState, JsonBody, List, Page, QueryParams};
use crate::core::{ConnectorRecord, SecurityProfile, StationRecord, StationUpdate};

/// A station with its live connection state.
#[derive(Debug, Serialize)]
pub struct StationView {
    #[serde(flatten)]
    station: StationRecord,
    /// Whether a websocket is open now.
    connected: bool,
    /// Connectors with live status (only in single-station answers).
    #[serde(skip_serializing_if = "Option::is_none")]
    connectors: Option<Vec<ConnectorRecord>>,
}

/// Body of `POST /api/stations`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewStation {
    id: String,
    #[serde(default)]
    password: Option<String>,
    #[serde(default)]
    registration_status: Option<RegistrationStatus>,
    /// 1, 2 or 3; 1 when absent.
    #[serde(default)]
    security_profile: Option<SecurityProfile>,
}

pub async fn create(
    State(state): State<ApiState>,
    JsonBody(body): JsonBody<NewStation>,
) -> Result<(StatusCode, Json<StationView>), ApiError> {
    let station = state
        .core
        .create_station(
            &body.id,
            body.password.as_deref(),
            body.registration_status,
            body.security_profile,
        )
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(StationView {
            connected: state.gateway.is_connected(&station.id),
            station,
            connectors: Some(Vec::new()),
        }),
    ))
}

pub async fn list(
    State(state): State<ApiState>,
    QueryParams(page): QueryParams<Page>,
) -> Result<Json<List<StationView>>, ApiError> {
    let (stations, total) = state.core.stations(page.offset, page.limit()).await?;
    let items = stations
        .into_iter()
        .map(|station| StationView {
            connected: state.gateway.is_connected(&station.id),
            station,
            connectors: None,
        })
        .collect();
    Ok(Json(List {
        items,
        total,
        offset: page.offset,
        limit: page.limit(),
    }))
}

pub async fn get(
    State(state): State<ApiState>,
    Path(id): Path<String>,
) -> Result<Json<StationView>, ApiError> {
    let station = state.core.station(&id).await?;
    let connectors = state.core.connectors(&id).await?;
    Ok(Json(StationView {
        connected: state.gateway.is_connected(&id),
        station,
        connectors: Some(connectors),
    }))
}

pub async fn update(
    State(state): State<ApiState>,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<StationUpdate>,
) -> Result<Json<StationView>, ApiError> {
    let station = state.core.update_station(&id, body).await?;
    let connectors = state.core.connectors(&id).await?;
    Ok(Json(StationView {
        connected: state.gateway.is_connected(&id),
        station,
        connectors: Some(connectors),
    }))
}

pub async fn connectors(
    State(state): State<ApiState>,
    Path(id): Path<String>,
) -> Result<Json<Vec<ConnectorRecord>>, ApiError> {
    state.core.station(&id).await?;
    Ok(Json(state.core.connectors(&id).await?))
}
