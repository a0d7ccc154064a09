//! Roaming KPIs for the operator: `GET /api/ocpi/kpis` (JSON, behind the bearer token) and
//! `GET /metrics` (OpenMetrics text for Prometheus, open like `/health`: it carries counts only,
//! no tokens or driver data).

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;

use super::{ApiError, ApiState};
use crate::core::RoamingKpis;

/// The content type of the OpenMetrics text format prometheus-client writes.
const OPENMETRICS: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

fn storage(e: crate::core::CoreError) -> ApiError {
    tracing::error!(error = %e, "storage error reading roaming KPIs");
    ApiError::new(
        StatusCode::INTERNAL_SERVER_ERROR,
        "internal",
        "storage error",
    )
}

/// `GET /api/ocpi/kpis`.
pub async fn summary(State(state): State<ApiState>) -> Result<Json<RoamingKpis>, ApiError> {
    state.core.roaming_kpis().await.map(Json).map_err(storage)
}

/// `GET /metrics`.
pub async fn metrics(State(state): State<ApiState>) -> Result<Response, ApiError> {
    let kpis = state.core.roaming_kpis().await.map_err(storage)?;
    Ok(([(header::CONTENT_TYPE, OPENMETRICS)], kpis.to_prometheus()).into_response())
}
