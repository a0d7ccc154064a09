//! The credentials module (OCPI 2.2.1 Credentials), both ways: partners register with us
//! (`/ocpi/2.2.1/credentials`: GET, POST, PUT, DELETE), and we register with partners
//! ([`crate::Bridge::register_with`]).

use axum::body::Bytes;
use axum::extract::State;
use axum::http::HeaderMap;
use serde::{Deserialize, Serialize};

use crate::port::{Credential, Partner, PartnerEndpoint, PartnerRole, Registration};
use crate::transport::{OcpiError, OcpiResponse, OcpiStatus, Routing};
use crate::{auth, Bridge, BridgeError};

use super::versions::{Version, VersionDetails, VERSION};

/// Credentials object.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Credentials {
    /// The token for the other party to use, not Base64 encoded.
    pub token: String,
    /// The sender's versions endpoint.
    pub url: String,
    /// The sender's roles (at least one).
    pub roles: Vec<CredentialsRole>,
}

/// CredentialsRole class.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CredentialsRole {
    /// Role (Types: Role enum).
    pub role: String,
    /// Details of this party.
    pub business_details: BusinessDetails,
    /// Party id, 3 characters.
    pub party_id: String,
    /// ISO 3166 alpha-2 country code.
    pub country_code: String,
}

/// BusinessDetails class (Locations module); the logo is not kept.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct BusinessDetails {
    /// Name of the operator.
    pub name: String,
    /// Link to the operator's website.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub website: Option<String>,
}

impl Credentials {
    /// Checks the fields the spec constrains: a token of 1-64 printable ASCII characters, a
    /// URL, at least one role with a 2-letter country code and a 3-character party id.
    fn validate(&self) -> Result<(), OcpiError> {
        let t = &self.token;
        if t.is_empty() || t.len() > 64 || !t.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(OcpiError::new(
                OcpiStatus::InvalidParameters,
                "token must be 1-64 printable ASCII characters",
            ));
        }
        if self.roles.is_empty() {
            return Err(OcpiError::new(
                OcpiStatus::InvalidParameters,
                "roles must hold at least one role",
            ));
        }
        for r in &self.roles {
            if r.country_code.len() != 2 || r.party_id.len() != 3 {
                return Err(OcpiError::new(
                    OcpiStatus::InvalidParameters,
                    "country_code must be 2 and party_id 3 characters",
                ));
            }
        }
        Ok(())
    }

    fn partner_roles(&self) -> Vec<PartnerRole> {
        self.roles
            .iter()
            .map(|r| PartnerRole {
                role: r.role.clone(),
                country_code: r.country_code.clone(),
                party_id: r.party_id.clone(),
                business_name: r.business_details.name.clone(),
                business_website: r.business_details.website.clone(),
            })
            .collect()
    }
}

/// What fetching a partner's versions and details found.
pub(crate) struct PartnerVersion {
    pub version: String,
    pub endpoints: Vec<PartnerEndpoint>,
}

/// GETs the partner's versions and our version's details with `token`.
pub(crate) async fn fetch_partner(
    bridge: &Bridge,
    versions_url: &str,
    token: &str,
    routing: &Routing,
) -> Result<PartnerVersion, BridgeError> {
    let client = bridge.client();
    let versions: Vec<Version> = client.get(versions_url, token, routing).await?;
    let ours = versions
        .into_iter()
        .find(|v| v.version == VERSION)
        .ok_or(BridgeError::UnsupportedVersion)?;
    let details: VersionDetails = client.get(&ours.url, token, routing).await?;
    let endpoints: Vec<PartnerEndpoint> = details
        .endpoints
        .into_iter()
        .map(|e| PartnerEndpoint {
            identifier: e.identifier,
            role: e.role,
            url: e.url,
        })
        .collect();
    if !endpoints.iter().any(|e| e.identifier == "credentials") {
        return Err(BridgeError::NoMatchingEndpoints(
            "the partner's version details list no credentials endpoint".into(),
        ));
    }
    Ok(PartnerVersion {
        version: VERSION.into(),
        endpoints,
    })
}

fn parse_body(body: &Bytes) -> Result<Credentials, OcpiError> {
    let credentials: Credentials = serde_json::from_slice(body)
        .map_err(|e| OcpiError::bad_request(format!("not a credentials object: {e}")))?;
    credentials.validate()?;
    Ok(credentials)
}

/// POST and PUT: fetch the partner's endpoints with its token, hand it a new token, store both.
async fn handshake(
    bridge: &Bridge,
    partner: &Partner,
    body: &Bytes,
) -> Result<OcpiResponse, OcpiError> {
    let theirs = parse_body(body)?;
    let routing = bridge.routing_to(theirs.partner_roles().first());
    let found = fetch_partner(bridge, &theirs.url, &theirs.token, &routing).await?;
    let our_token = auth::new_token();
    bridge
        .store()
        .register(
            partner.id,
            Registration {
                roles: theirs.partner_roles(),
                endpoints: found.endpoints,
                version: found.version,
                versions_url: theirs.url.clone(),
                token_hash: auth::token_hash(&our_token),
                their_token: bridge.cipher().encrypt(&theirs.token),
            },
        )
        .await
        .map_err(|e| OcpiError::internal(e.to_string()))?;
    tracing::info!(partner = partner.id.0, "OCPI partner registered");
    OcpiResponse::ok(bridge.our_credentials(our_token))
}

/// `GET /ocpi/2.2.1/credentials`: our credentials object, with the token the caller used (we
/// keep only its hash, and it is the caller's current token by definition).
pub async fn get(
    State(bridge): State<Bridge>,
    headers: HeaderMap,
) -> Result<OcpiResponse, OcpiError> {
    let (_, _, token) = bridge.authenticate(&headers).await?;
    OcpiResponse::ok(bridge.our_credentials(token))
}

/// `POST /ocpi/2.2.1/credentials`: registration with token A; 405 when already registered.
pub async fn post(
    State(bridge): State<Bridge>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<OcpiResponse, OcpiError> {
    let (partner, credential, _) = bridge.authenticate(&headers).await?;
    if credential == Credential::Registered {
        return Err(OcpiError::method_not_allowed(
            "already registered: use PUT to update",
        ));
    }
    handshake(&bridge, &partner, &body).await
}

/// `PUT /ocpi/2.2.1/credentials`: fetch endpoints again and rotate our token; 405 before
/// registration.
pub async fn put(
    State(bridge): State<Bridge>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<OcpiResponse, OcpiError> {
    let (partner, credential, _) = bridge.authenticate(&headers).await?;
    if credential != Credential::Registered {
        return Err(OcpiError::method_not_allowed(
            "not registered: use POST to register",
        ));
    }
    handshake(&bridge, &partner, &body).await
}

/// `DELETE /ocpi/2.2.1/credentials`: unregister; 405 before registration.
pub async fn delete(
    State(bridge): State<Bridge>,
    headers: HeaderMap,
) -> Result<OcpiResponse, OcpiError> {
    let (partner, credential, _) = bridge.authenticate(&headers).await?;
    if credential != Credential::Registered {
        return Err(OcpiError::method_not_allowed("not registered"));
    }
    bridge
        .store()
        .unregister(partner.id)
        .await
        .map_err(|e| OcpiError::internal(e.to_string()))?;
    tracing::info!(partner = partner.id.0, "OCPI partner unregistered");
    OcpiResponse::ok(serde_json::Value::Null)
}
