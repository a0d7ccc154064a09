//! OCPI Locations as the operator manages them: sites (`/api/locations`, the list paginated like
//! the others) and which station EVSEs belong to each (`/api/locations/{id}/evses/{uid}`).
//! Validation follows OCPI 2.2.1 (the bridge's rules); a refused body is a 400 naming the field.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use ocpi_bridge::port::locations::{EvseSpec, Site};
use serde::Deserialize;

use super::{ApiError, ApiState, JsonBody, List, Page, QueryParams};
use crate::core::{LocationEvseRecord, LocationRecord};

/// Body of `POST /api/locations`: the site, with an optional id (a UUID when absent).
#[derive(Debug, Deserialize)]
pub struct NewLocation {
    #[serde(default)]
    id: Option<String>,
    #[serde(flatten)]
    site: serde_json::Value,
}

fn parse_site(value: serde_json::Value) -> Result<Site, ApiError> {
    serde_json::from_value(value).map_err(|e| ApiError::bad_request(e.to_string()))
}

pub async fn create(
    State(state): State<ApiState>,
    JsonBody(body): JsonBody<NewLocation>,
) -> Result<(StatusCode, Json<LocationRecord>), ApiError> {
    let site = parse_site(body.site)?;
    let created = state.core.create_location(body.id, site).await?;
    Ok((StatusCode::CREATED, Json(created)))
}

pub async fn list(
    State(state): State<ApiState>,
    QueryParams(page): QueryParams<Page>,
) -> Result<Json<List<LocationRecord>>, ApiError> {
    let all = state.core.list_locations().await?;
    let total = all.len() as u64;
    let items = all
        .into_iter()
        .skip(usize::try_from(page.offset).unwrap_or(usize::MAX))
        .take(usize::try_from(page.limit()).unwrap_or(usize::MAX))
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
) -> Result<Json<LocationRecord>, ApiError> {
    Ok(Json(state.core.get_location(&id).await?))
}

pub async fn put(
    State(state): State<ApiState>,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<serde_json::Value>,
) -> Result<Json<LocationRecord>, ApiError> {
    let site = parse_site(body)?;
    Ok(Json(state.core.replace_location(&id, site).await?))
}

pub async fn patch(
    State(state): State<ApiState>,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<serde_json::Value>,
) -> Result<Json<LocationRecord>, ApiError> {
    Ok(Json(state.core.patch_location(&id, body).await?))
}

pub async fn delete(
    State(state): State<ApiState>,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    state.core.delete_location(&id).await?;
    Ok(StatusCode::NO_CONTENT)
}

pub async fn put_evse(
    State(state): State<ApiState>,
    Path((id, uid)): Path<(String, String)>,
    JsonBody(body): JsonBody<serde_json::Value>,
) -> Result<(StatusCode, Json<LocationEvseRecord>), ApiError> {
    let spec: EvseSpec =
        serde_json::from_value(body).map_err(|e| ApiError::bad_request(e.to_string()))?;
    let (evse, created) = state.core.put_location_evse(&id, &uid, spec).await?;
    let status = if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, Json(evse)))
}

pub async fn delete_evse(
    State(state): State<ApiState>,
    Path((id, uid)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    state.core.delete_location_evse(&id, &uid).await?;
    Ok(StatusCode::NO_CONTENT)
}
