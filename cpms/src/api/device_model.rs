//! What 2.0.1 stations report about themselves: `GET /api/stations/{id}/variables` (the device
//! model from NotifyReport) and `GET /api/stations/{id}/events` (NotifyEvent and
//! SecurityEventNotification), both paginated.

use axum::extract::{Path, State};
use axum::Json;

use super::{ApiError, ApiState, List, Page, QueryParams};
use crate::core::{DeviceVariableRecord, StationEventRecord};

/// `GET /api/stations/{id}/variables`.
pub async fn variables(
    State(state): State<ApiState>,
    Path(id): Path<String>,
    QueryParams(page): QueryParams<Page>,
) -> Result<Json<List<DeviceVariableRecord>>, ApiError> {
    state.core.station(&id).await?;
    let (items, total) = state
        .core
        .device_variables(&id, page.offset, page.limit())
        .await?;
    Ok(Json(List {
        items,
        total,
        offset: page.offset,
        limit: page.limit(),
    }))
}

/// `GET /api/stations/{id}/events`.
pub async fn events(
    State(state): State<ApiState>,
    Path(id): Path<String>,
    QueryParams(page): QueryParams<Page>,
) -> Result<Json<List<StationEventRecord>>, ApiError> {
    state.core.station(&id).await?;
    let (items, total) = state
        .core
        .station_event_log(&id, page.offset, page.limit())
        .await?;
    Ok(Json(List {
        items,
        total,
        offset: page.offset,
        limit: page.limit(),
    }))
}
