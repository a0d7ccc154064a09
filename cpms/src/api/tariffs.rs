//! Tariffs for the operator, in the OCPI 2.2.1 tariff model (Tariffs: Object description):
//! `POST/GET /api/tariffs`, `GET/PUT/DELETE /api/tariffs/{id}`. Prices are JSON numbers, exact.
//! `country_code` and `party_id` are the platform's (config `[ocpi]`) and `last_updated` is set
//! by the CPMS, so a body may carry them (a Tariff object pasted whole) but they are ignored.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use ocpi_bridge::port::tariffs::{Tariff, TariffTerms};
use serde_json::Value;

use super::{ApiError, ApiState, List, Page, QueryParams};

/// Fields of a Tariff object the CPMS owns: accepted in a body, never taken from it.
const PLATFORM_FIELDS: [&str; 3] = ["country_code", "party_id", "last_updated"];

/// A tariff as the operator sees it: the OCPI Tariff object.
fn view(state: &ApiState, tariff: &Tariff) -> Result<Value, ApiError> {
    let config = state.ocpi.config();
    ocpi_bridge::modules::tariffs::ocpi_tariff(tariff, &config.country_code, &config.party_id)
        .map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", e.message))
}

/// Splits a body into its `id` (when present) and the terms; rejections are 400s.
fn parse(body: &[u8]) -> Result<(Option<String>, TariffTerms), ApiError> {
    let value: Value =
        serde_json::from_slice(body).map_err(|e| ApiError::bad_request(e.to_string()))?;
    let Value::Object(mut object) = value else {
        return Err(ApiError::bad_request("the body must be a JSON object"));
    };
    let id = match object.remove("id") {
        None => None,
        Some(Value::String(id)) => Some(id),
        Some(_) => return Err(ApiError::bad_request("id must be a string")),
    };
    for field in PLATFORM_FIELDS {
        object.remove(field);
    }
    let terms = serde_json::from_value(Value::Object(object))
        .map_err(|e| ApiError::bad_request(format!("invalid tariff: {e}")))?;
    Ok((id, terms))
}

/// `POST /api/tariffs`: a new tariff; 409 when the id is taken.
pub async fn create(
    State(state): State<ApiState>,
    body: axum::body::Bytes,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let (id, terms) = parse(&body)?;
    let id = id.ok_or_else(|| ApiError::bad_request("id is required"))?;
    let tariff = state.core.create_tariff(id, terms).await?;
    Ok((StatusCode::CREATED, Json(view(&state, &tariff)?)))
}

/// `GET /api/tariffs`: every tariff, oldest change first, paginated.
pub async fn list(
    State(state): State<ApiState>,
    QueryParams(page): QueryParams<Page>,
) -> Result<Json<List<Value>>, ApiError> {
    let tariffs = state.core.all_tariffs().await?;
    let total = tariffs.len() as u64;
    let items = tariffs
        .iter()
        .skip(usize::try_from(page.offset).unwrap_or(usize::MAX))
        .take(usize::try_from(page.limit()).unwrap_or(usize::MAX))
        .map(|t| view(&state, t))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Json(List {
        items,
        total,
        offset: page.offset,
        limit: page.limit(),
    }))
}

/// `GET /api/tariffs/{id}`.
pub async fn get(
    State(state): State<ApiState>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let tariff = state
        .core
        .tariff_by_id(&id)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("tariff {id} not found")))?;
    Ok(Json(view(&state, &tariff)?))
}

/// `PUT /api/tariffs/{id}`: replaces the terms; an `id` in the body must match the path.
pub async fn put(
    State(state): State<ApiState>,
    Path(id): Path<String>,
    body: axum::body::Bytes,
) -> Result<Json<Value>, ApiError> {
    let (body_id, terms) = parse(&body)?;
    if body_id.is_some_and(|b| b != id) {
        return Err(ApiError::bad_request(
            "the body's id differs from the path's",
        ));
    }
    let tariff = state.core.replace_tariff(&id, terms).await?;
    Ok(Json(view(&state, &tariff)?))
}

/// `DELETE /api/tariffs/{id}`: 204.
pub async fn delete(
    State(state): State<ApiState>,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    state.core.delete_tariff(&id).await?;
    Ok(StatusCode::NO_CONTENT)
}
