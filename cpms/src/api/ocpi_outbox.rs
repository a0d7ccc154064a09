//! The OCPI push outbox for the operator: `GET /api/ocpi/outbox?state=pending|delivered|parked`
//! (paginated, newest first) and `POST /api/ocpi/outbox/{id}/redeliver`, which sends a parked
//! push again (attempts reset, due now).

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use chrono::Utc;
use ocpi_bridge::port::outbox::{Outbox, OutboxRow, OutboxState};
use serde::Deserialize;

use super::{ApiError, ApiState, List, QueryParams, MAX_LIMIT};

/// The list's query: a state filter and the usual pagination.
#[derive(Debug, Deserialize)]
pub struct OutboxQuery {
    state: Option<OutboxState>,
    #[serde(default)]
    offset: u64,
    limit: Option<u64>,
}

fn storage(e: ocpi_bridge::port::StoreError) -> ApiError {
    tracing::error!(error = %e, "outbox storage error in operator API");
    ApiError::new(
        StatusCode::INTERNAL_SERVER_ERROR,
        "internal",
        "storage error",
    )
}

/// `GET /api/ocpi/outbox`.
pub async fn list(
    State(state): State<ApiState>,
    QueryParams(q): QueryParams<OutboxQuery>,
) -> Result<Json<List<OutboxRow>>, ApiError> {
    let limit = q.limit.unwrap_or(100).clamp(1, MAX_LIMIT);
    let (items, total) = Outbox::list(&state.core, q.state, q.offset, limit)
        .await
        .map_err(storage)?;
    Ok(Json(List {
        items,
        total,
        offset: q.offset,
        limit,
    }))
}

/// `POST /api/ocpi/outbox/{id}/redeliver`: 404 unless the row exists and is parked.
pub async fn redeliver(
    State(state): State<ApiState>,
    Path(id): Path<i64>,
) -> Result<Json<OutboxRow>, ApiError> {
    Outbox::redeliver(&state.core, id, Utc::now())
        .await
        .map_err(storage)?
        .map(Json)
        .ok_or_else(|| ApiError::not_found(format!("parked push {id}")))
}
