//! Id tokens: the operator's own authorization list.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;

use super::{ApiError, ApiState, JsonBody, List, Page, QueryParams};
use crate::core::IdTokenRecord;

pub async fn list(
    State(state): State<ApiState>,
    QueryParams(page): QueryParams<Page>,
) -> Result<Json<List<IdTokenRecord>>, ApiError> {
    let (items, total) = state.core.id_tokens(page.offset, page.limit()).await?;
    Ok(Json(List {
        items,
        total,
        offset: page.offset,
        limit: page.limit(),
    }))
}

pub async fn create(
    State(state): State<ApiState>,
    JsonBody(body): JsonBody<IdTokenRecord>,
) -> Result<(StatusCode, Json<IdTokenRecord>), ApiError> {
    Ok((
        StatusCode::CREATED,
        Json(state.core.create_id_token(body).await?),
    ))
}

pub async fn get(
    State(state): State<ApiState>,
    Path(id): Path<String>,
) -> Result<Json<IdTokenRecord>, ApiError> {
    Ok(Json(state.core.id_token(&id).await?))
}

pub async fn put(
    State(state): State<ApiState>,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<IdTokenRecord>,
) -> Result<(StatusCode, Json<IdTokenRecord>), ApiError> {
    if body.id_token != id {
        return Err(ApiError::bad_request(
            "id_token in the body differs from the path",
        ));
    }
    let (record, created) = state.core.put_id_token(body).await?;
    let status = if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, Json(record)))
}

pub async fn delete(
    State(state): State<ApiState>,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    state.core.delete_id_token(&id).await?;
    Ok(StatusCode::NO_CONTENT)
}
