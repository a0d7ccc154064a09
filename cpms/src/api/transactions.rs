//! Transactions: list with filters, get one with its meter samples.

use axum::extract::{Path, State};
use axum::Json;
use chrono::{DateTime, Utc};
use serde::Deserialize;

use super::{ApiError, ApiState, List, Page, QueryParams};
use crate::core::{TransactionFilter, TransactionRecord, TransactionState};

/// Query of `GET /api/transactions`.
#[derive(Debug, Deserialize)]
pub struct ListQuery {
    station_id: Option<String>,
    state: Option<TransactionState>,
    id_token: Option<String>,
    /// Started at or after (RFC 3339).
    started_from: Option<DateTime<Utc>>,
    /// Started before (RFC 3339).
    started_to: Option<DateTime<Utc>>,
    #[serde(default)]
    offset: u64,
    limit: Option<u64>,
}

pub async fn list(
    State(state): State<ApiState>,
    QueryParams(q): QueryParams<ListQuery>,
) -> Result<Json<List<TransactionRecord>>, ApiError> {
    let page = Page {
        offset: q.offset,
        limit: q.limit.unwrap_or(100),
    };
    let filter = TransactionFilter {
        station_id: q.station_id,
        state: q.state,
        id_token: q.id_token,
        started_from: q.started_from,
        started_to: q.started_to,
    };
    let (items, total) = state
        .core
        .transactions(&filter, page.offset, page.limit())
        .await?;
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
) -> Result<Json<TransactionRecord>, ApiError> {
    let id: i32 = id
        .parse()
        .map_err(|_| ApiError::bad_request("transaction id must be an integer"))?;
    Ok(Json(state.core.transaction(id).await?))
}
