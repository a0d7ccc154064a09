//! OCPI partners for the operator: create one (token A for an eMSP that registers with us),
//! register with an eMSP ourselves, list them. The handshake itself is the bridge's.

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use chrono::{DateTime, Utc};
use ocpi_bridge::client::ClientError;
use ocpi_bridge::port::Partner;
use ocpi_bridge::BridgeError;
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::{ApiError, ApiState, JsonBody, List, Page, QueryParams};

/// A partner as the operator sees it; tokens are never shown after creation.
#[derive(Debug, Serialize)]
pub struct PartnerView {
    id: i64,
    name: Option<String>,
    status: &'static str,
    country_code: Option<String>,
    party_id: Option<String>,
    roles: Vec<serde_json::Value>,
    endpoints: Vec<ocpi_bridge::port::PartnerEndpoint>,
    version: Option<String>,
    versions_url: Option<String>,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

impl From<Partner> for PartnerView {
    fn from(p: Partner) -> Self {
        let first = p.roles.first();
        PartnerView {
            id: p.id.0,
            name: p.name.clone(),
            status: p.status.as_str(),
            country_code: first.map(|r| r.country_code.clone()),
            party_id: first.map(|r| r.party_id.clone()),
            roles: p
                .roles
                .iter()
                .map(|r| {
                    json!({
                        "role": r.role,
                        "country_code": r.country_code,
                        "party_id": r.party_id,
                        "business_details": {"name": r.business_name, "website": r.business_website},
                    })
                })
                .collect(),
            endpoints: p.endpoints,
            version: p.version,
            versions_url: p.versions_url,
            created_at: p.created_at,
            updated_at: p.updated_at,
        }
    }
}

impl From<BridgeError> for ApiError {
    fn from(e: BridgeError) -> Self {
        match e {
            BridgeError::Partner(ClientError::Policy(p)) => ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "partner_url_refused",
                p.to_string(),
            ),
            BridgeError::Partner(e) => {
                ApiError::new(StatusCode::BAD_GATEWAY, "partner_error", e.to_string())
            }
            e @ (BridgeError::Handshake(_)
            | BridgeError::UnsupportedVersion
            | BridgeError::NoMatchingEndpoints(_)) => {
                ApiError::new(StatusCode::BAD_GATEWAY, "partner_error", e.to_string())
            }
            BridgeError::Store(e) => {
                tracing::error!(error = %e, "storage error in OCPI partner API");
                ApiError::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "internal",
                    "database error",
                )
            }
        }
    }
}

/// `POST /api/ocpi/partners` body.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreatePartner {
    /// A name for the operator's own reference.
    name: Option<String>,
}

/// `POST /api/ocpi/partners`: a pending partner and its token A (shown once) with our versions
/// URL, both to be given to the eMSP out of band.
pub async fn create(
    State(state): State<ApiState>,
    body: axum::body::Bytes,
) -> Result<(StatusCode, Json<serde_json::Value>), ApiError> {
    // The body is optional: no body is a partner without a name.
    let body: CreatePartner = if body.iter().all(u8::is_ascii_whitespace) {
        CreatePartner::default()
    } else {
        serde_json::from_slice(&body).map_err(|e| ApiError::bad_request(e.to_string()))?
    };
    let name = body.name;
    let created = state.ocpi.create_partner(name).await?;
    Ok((
        StatusCode::CREATED,
        Json(json!({
            "partner": PartnerView::from(created.partner),
            "token": created.token,
            "versions_url": created.versions_url,
        })),
    ))
}

/// `POST /api/ocpi/partners/register` body: the eMSP's versions URL and the token A it gave us.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RegisterPartner {
    versions_url: String,
    token: String,
    name: Option<String>,
}

/// `POST /api/ocpi/partners/register`: we register with the eMSP.
pub async fn register(
    State(state): State<ApiState>,
    JsonBody(body): JsonBody<RegisterPartner>,
) -> Result<(StatusCode, Json<PartnerView>), ApiError> {
    if body.token.trim().is_empty() {
        return Err(ApiError::bad_request("token must not be empty"));
    }
    let partner = state
        .ocpi
        .register_with(&body.versions_url, body.token.trim(), body.name)
        .await?;
    Ok((StatusCode::CREATED, Json(partner.into())))
}

/// `GET /api/ocpi/partners`: every partner, oldest first, paginated.
pub async fn list(
    State(state): State<ApiState>,
    QueryParams(page): QueryParams<Page>,
) -> Result<Json<List<PartnerView>>, ApiError> {
    let partners = state.ocpi.partners().await?;
    let total = partners.len() as u64;
    let items = partners
        .into_iter()
        .skip(usize::try_from(page.offset).unwrap_or(usize::MAX))
        .take(usize::try_from(page.limit()).unwrap_or(usize::MAX))
        .map(PartnerView::from)
        .collect();
    Ok(Json(List {
        items,
        total,
        offset: page.offset,
        limit: page.limit(),
    }))
}
