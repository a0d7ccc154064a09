//! OCPI CDRs for the operator: `GET /api/ocpi/cdrs` (every partner's, newest first, paginated),
//! `POST /api/ocpi/cdrs/{id}/credit` (a credit CDR, pushed like any CDR; 409 when the CDR was
//! credited already or is a credit itself) and `GET /api/ocpi/cdrs/unbillable`, the roaming
//! sessions that could not become a CDR, with the reason.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use serde::Deserialize;

use super::{ApiError, ApiState, List, Page, QueryParams};
use crate::core::{CdrRecord, UnbillableRecord};

/// How long a roaming session may run before it is listed as never stopped, when the query
/// does not say.
const DEFAULT_STALE_AFTER_HOURS: u32 = 48;

/// The unbillable list's query.
#[derive(Debug, Deserialize)]
pub struct UnbillableQuery {
    /// Sessions still running this many hours after their start count as never stopped.
    stale_after_hours: Option<u32>,
}

/// `GET /api/ocpi/cdrs`.
pub async fn list(
    State(state): State<ApiState>,
    QueryParams(page): QueryParams<Page>,
) -> Result<Json<List<CdrRecord>>, ApiError> {
    let limit = page.limit();
    let (items, total) = state.core.list_cdrs(page.offset, limit).await?;
    Ok(Json(List {
        items,
        total,
        offset: page.offset,
        limit,
    }))
}

/// `POST /api/ocpi/cdrs/{id}/credit`: 201 with the credit CDR.
pub async fn credit(
    State(state): State<ApiState>,
    Path(id): Path<String>,
) -> Result<(StatusCode, Json<CdrRecord>), ApiError> {
    let credit = state.core.credit_cdr(&id).await?;
    Ok((StatusCode::CREATED, Json(credit)))
}

/// `GET /api/ocpi/cdrs/unbillable?[stale_after_hours]`.
pub async fn unbillable(
    State(state): State<ApiState>,
    QueryParams(q): QueryParams<UnbillableQuery>,
) -> Result<Json<Vec<UnbillableRecord>>, ApiError> {
    let hours = q.stale_after_hours.unwrap_or(DEFAULT_STALE_AFTER_HOURS);
    let stale_after = chrono::Duration::hours(i64::from(hours));
    Ok(Json(state.core.unbillable_sessions(stale_after).await?))
}
