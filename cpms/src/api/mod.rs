//! The operator API: JSON over HTTP under `/api`, every route behind a bearer JWT, plus `/health`
//! and `/metrics` (Prometheus).
//!
//! Handlers are typed (extractors in, `Json<T>` out) so an OpenAPI document can be derived later.
//! Errors are JSON `{"error": code, "message": text}` with the matching HTTP status.

mod charging_profiles;
mod commands;
mod device_model;
mod id_tokens;
mod local_lists;
mod locations;
mod ocpi_cdrs;
mod ocpi_outbox;
mod ocpi_partners;
mod roaming_kpis;
mod stations;
mod tariffs;
mod transactions;

use axum::extract::{FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::http::{header, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use ocpp_gateway::Gateway;
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::core::{Core, CoreError};
use crate::secrets::TokenKeys;

/// What the handlers share.
#[derive(Clone)]
pub struct ApiState {
    /// The core.
    pub core: Core,
    /// The gateway, to reach stations.
    pub gateway: Gateway,
    /// Bearer-token keys.
    pub keys: TokenKeys,
    /// The OCPI bridge, for the operator's partner actions.
    pub ocpi: ocpi_bridge::Bridge,
}

/// The HTTP routes: `/health` and `/api/...`.
pub fn router(state: ApiState) -> Router {
    let api = Router::new()
        .route("/stations", get(stations::list).post(stations::create))
        .route("/stations/{id}", get(stations::get).patch(stations::update))
        .route("/stations/{id}/connectors", get(stations::connectors))
        .route("/stations/{id}/variables", get(device_model::variables))
        .route("/stations/{id}/events", get(device_model::events))
        .route("/stations/{id}/commands/{command}", post(commands::send))
        .route(
            "/stations/{id}/charging-profiles",
            get(charging_profiles::list).post(charging_profiles::set),
        )
        .route(
            "/stations/{id}/charging-profiles/{profile_id}",
            axum::routing::delete(charging_profiles::delete),
        )
        .route(
            "/stations/{id}/local-list",
            get(local_lists::get).post(local_lists::send),
        )
        .route(
            "/stations/{id}/reservations",
            get(local_lists::reservations),
        )
        .route("/transactions", get(transactions::list))
        .route("/transactions/{id}", get(transactions::get))
        .route("/id-tokens", get(id_tokens::list).post(id_tokens::create))
        .route(
            "/id-tokens/{id}",
            get(id_tokens::get)
                .put(id_tokens::put)
                .delete(id_tokens::delete),
        )
        .route(
            "/ocpi/partners",
            get(ocpi_partners::list).post(ocpi_partners::create),
        )
        .route("/ocpi/partners/register", post(ocpi_partners::register))
        .route("/ocpi/cdrs", get(ocpi_cdrs::list))
        .route("/ocpi/cdrs/unbillable", get(ocpi_cdrs::unbillable))
        .route("/ocpi/cdrs/{id}/credit", post(ocpi_cdrs::credit))
        .route("/ocpi/kpis", get(roaming_kpis::summary))
        .route("/ocpi/outbox", get(ocpi_outbox::list))
        .route("/ocpi/outbox/{id}/redeliver", post(ocpi_outbox::redeliver))
        .route("/locations", get(locations::list).post(locations::create))
        .route(
            "/locations/{id}",
            get(locations::get)
                .put(locations::put)
                .patch(locations::patch)
                .delete(locations::delete),
        )
        .route(
            "/locations/{id}/evses/{uid}",
            axum::routing::put(locations::put_evse).delete(locations::delete_evse),
        )
        .route("/tariffs", get(tariffs::list).post(tariffs::create))
        .route(
            "/tariffs/{id}",
            get(tariffs::get).put(tariffs::put).delete(tariffs::delete),
        )
        .fallback(|| async { ApiError::not_found("no such route") })
        .route_layer(middleware::from_fn_with_state(
            state.clone(),
            require_bearer,
        ));
    Router::new()
        .route("/health", get(health))
        .route("/metrics", get(roaming_kpis::metrics))
        .nest("/api", api)
        .with_state(state)
}

/// Liveness and database reachability; no authentication.
async fn health(State(state): State<ApiState>) -> Response {
    match state.core.db().ping().await {
        Ok(()) => Json(json!({"status": "ok"})).into_response(),
        Err(e) => (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({"status": "unavailable", "message": e.to_string()})),
        )
            .into_response(),
    }
}

async fn require_bearer(State(state): State<ApiState>, request: Request, next: Next) -> Response {
    let token = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(bearer_token);
    let refusal = match token.map(|t| state.keys.verify(t)) {
        Some(Ok(_)) => return next.run(request).await,
        Some(Err(_)) => "invalid or expired bearer token",
        None => "missing bearer token",
    };
    // RFC 6750 §3: a 401 names the scheme the client should use.
    let mut response = ApiError::unauthorized(refusal).into_response();
    response.headers_mut().insert(
        header::WWW_AUTHENTICATE,
        header::HeaderValue::from_static("Bearer realm=\"cpms\""),
    );
    response
}

/// The token of an `Authorization: Bearer <token>` value; the scheme name is case-insensitive
/// (RFC 9110 §11.1).
fn bearer_token(value: &str) -> Option<&str> {
    let (scheme, token) = value.trim().split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim())
        .filter(|t| !t.is_empty())
}

#[cfg(test)]
mod tests {
    use super::bearer_token;

    #[test]
    fn the_bearer_scheme_is_case_insensitive() {
        assert_eq!(bearer_token("Bearer abc"), Some("abc"));
        assert_eq!(bearer_token("bearer  abc "), Some("abc"));
        assert_eq!(bearer_token("Basic abc"), None);
        assert_eq!(bearer_token("Bearer "), None);
    }
}

/// An error answer.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    code: &'static str,
    message: String,
}

impl ApiError {
    fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        ApiError {
            status,
            code,
            message: message.into(),
        }
    }
    fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "not_found", message)
    }
    fn unauthorized(message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "unauthorized", message)
    }
    fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "bad_request", message)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (
            self.status,
            Json(json!({"error": self.code, "message": self.message})),
        )
            .into_response()
    }
}

impl From<CoreError> for ApiError {
    fn from(e: CoreError) -> Self {
        match e {
            CoreError::NotFound(m) => ApiError::not_found(m),
            CoreError::Conflict(m) => ApiError::new(StatusCode::CONFLICT, "conflict", m),
            CoreError::Invalid(m) => ApiError::bad_request(m),
            CoreError::Db(e) => {
                tracing::error!(error = %e, "database error in operator API");
                ApiError::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "internal",
                    "database error",
                )
            }
        }
    }
}

/// A JSON body whose rejections are [`ApiError`]s in our JSON form.
pub struct JsonBody<T>(pub T);

impl<S, T> axum::extract::FromRequest<S> for JsonBody<T>
where
    S: Send + Sync,
    T: serde::de::DeserializeOwned,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        Json::<T>::from_request(req, state)
            .await
            .map(|Json(v)| JsonBody(v))
            .map_err(|e| ApiError::bad_request(e.body_text()))
    }
}

/// Query parameters whose rejections are [`ApiError`]s.
pub struct QueryParams<T>(pub T);

impl<S, T> FromRequestParts<S> for QueryParams<T>
where
    S: Send + Sync,
    T: serde::de::DeserializeOwned,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        axum::extract::Query::<T>::from_request_parts(parts, state)
            .await
            .map(|axum::extract::Query(v)| QueryParams(v))
            .map_err(|e| ApiError::bad_request(e.body_text()))
    }
}

/// Offset pagination of list routes.
#[derive(Debug, Clone, Copy, Deserialize)]
pub struct Page {
    /// Items to skip.
    #[serde(default)]
    pub offset: u64,
    /// Items to return, at most [`MAX_LIMIT`].
    #[serde(default = "default_limit")]
    pub limit: u64,
}

/// Largest page size.
pub const MAX_LIMIT: u64 = 1000;

fn default_limit() -> u64 {
    100
}

impl Page {
    fn limit(self) -> u64 {
        self.limit.clamp(1, MAX_LIMIT)
    }
}

/// A page of a list.
#[derive(Debug, Serialize)]
pub struct List<T> {
    /// The items.
    pub items: Vec<T>,
    /// Items matching in all.
    pub total: u64,
    /// Offset of the first item.
    pub offset: u64,
    /// Page size applied.
    pub limit: u64,
}
