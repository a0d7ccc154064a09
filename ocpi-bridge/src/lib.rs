//! OCPI 2.2.1 CPO edge: the transport (envelope, status codes, headers, pagination), the versions
//! endpoints, the credentials handshake with eMSP partners in both directions, the sender side
//! of the locations and tariffs modules (GET) with the push of their changes (`push.rs`, over the
//! [`port::outbox::Outbox`] port), the receiver side of tokens and the real-time authorization of
//! roaming tokens (`realtime.rs`, behind [`port::tokens::RoamingAuthorizer`]), and the sender
//! side of sessions (GET, and the push to the owning eMSP). CDRs and commands build on it.
//!
//! The bridge defines the port it needs ([`port::PartnerStore`]); the core implements it. The
//! bridge never depends on the core or on another edge, and the core never sees an OCPI object.

pub mod auth;
pub mod client;
pub mod modules;
pub mod port;
pub mod pricing;
pub mod push;
pub mod realtime;
pub mod transport;
pub mod url_policy;

use std::sync::Arc;

use axum::http::HeaderMap;
use axum::routing::get;
use axum::Router;

use crate::auth::TokenCipher;
use crate::client::{ClientError, OcpiClient};
use crate::modules::cdrs;
use crate::modules::credentials::{self, BusinessDetails, Credentials, CredentialsRole};
use crate::modules::locations;
use crate::modules::sessions;
use crate::modules::tariffs;
use crate::modules::tokens;
use crate::modules::versions::{self, Endpoint, VersionDetails, VERSION};
use crate::port::cdrs::CdrSource;
use crate::port::locations::LocationSource;
use crate::port::sessions::SessionSource;
use crate::port::tariffs::TariffSource;
use crate::port::tokens::TokenStore;
use crate::port::{Credential, Partner, PartnerRole, PartnerStore, Registration, StoreError};
use crate::realtime::RealtimeAuthorizer;
use crate::transport::{OcpiError, PartyRef, Routing};
use crate::url_policy::UrlPolicy;

/// Who we are towards partners and where they reach us.
#[derive(Debug, Clone)]
pub struct OcpiConfig {
    /// Our ISO 3166 alpha-2 country code.
    pub country_code: String,
    /// Our party id.
    pub party_id: String,
    /// Our business name.
    pub business_name: String,
    /// Our website.
    pub business_website: Option<String>,
    /// The externally visible base URL (`https://cpo.example`), without `/ocpi`.
    pub public_url: String,
    /// Allow `http` and non-public partner URLs (test setups only).
    pub allow_private_partner_urls: bool,
    /// The largest page a paginated module returns.
    pub max_page_limit: u64,
    /// How long the owning eMSP has to answer a real-time token authorization.
    pub realtime_auth_timeout: std::time::Duration,
    /// ISO 4217 currency of our Sessions (Sessions: Session object, `currency`).
    pub currency: String,
}

/// A partner the operator created, waiting for the eMSP to register with token A.
#[derive(Debug, Clone)]
pub struct NewPartner {
    /// The partner as stored.
    pub partner: Partner,
    /// Token A, shown once: it is stored hashed.
    pub token: String,
    /// Our versions URL, to hand to the eMSP with the token.
    pub versions_url: String,
}

/// Why an operator action on partners failed.
#[derive(Debug, thiserror::Error)]
pub enum BridgeError {
    /// The storage failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The partner could not be used: URL refused, unreachable, or refusing.
    #[error(transparent)]
    Partner(#[from] ClientError),
    /// The partner does not offer our version (OCPI status 3002).
    #[error("the partner does not offer OCPI {VERSION}")]
    UnsupportedVersion,
    /// The partner lacks an endpoint the handshake needs (OCPI status 3003).
    #[error("{0}")]
    NoMatchingEndpoints(String),
    /// The partner answered, but not with what the handshake needs.
    #[error("{0}")]
    Handshake(String),
}

/// How a failed handshake step is told to a partner that called us (Credentials: Errors during
/// registration, Required endpoints not available; Status codes).
impl From<BridgeError> for OcpiError {
    fn from(e: BridgeError) -> Self {
        use crate::transport::OcpiStatus;
        let status = match &e {
            BridgeError::Store(_) => return OcpiError::internal(e.to_string()),
            BridgeError::Partner(_) | BridgeError::Handshake(_) => OcpiStatus::UnableToUseClientApi,
            BridgeError::UnsupportedVersion => OcpiStatus::UnsupportedVersion,
            BridgeError::NoMatchingEndpoints(_) => OcpiStatus::NoMatchingEndpoints,
        };
        OcpiError::new(status, e.to_string())
    }
}

/// The OCPI bridge: its HTTP router and the operator's partner actions. Cheap to clone.
#[derive(Clone)]
pub struct Bridge {
    inner: Arc<Inner>,
}

struct Inner {
    config: OcpiConfig,
    store: Arc<dyn PartnerStore>,
    cipher: TokenCipher,
    client: OcpiClient,
    /// Where the Tariffs module reads; set once with [`Bridge::with_tariffs`].
    tariffs: std::sync::OnceLock<Arc<dyn TariffSource>>,
    /// Where the Locations module reads, and the offline grace; set once with
    /// [`Bridge::with_locations`].
    locations: std::sync::OnceLock<(Arc<dyn LocationSource>, chrono::Duration)>,
    /// Where the Tokens module keeps tokens; set once with [`Bridge::with_tokens`].
    tokens: std::sync::OnceLock<Arc<dyn TokenStore>>,
    /// Where the Sessions module reads; set once with [`Bridge::with_sessions`].
    sessions: std::sync::OnceLock<Arc<dyn SessionSource>>,
    /// Where the CDRs module reads; set once with [`Bridge::with_cdrs`].
    cdrs: std::sync::OnceLock<Arc<dyn CdrSource>>,
    /// Where the Commands module sends commands; set once with [`Bridge::with_commands`].
    commands: std::sync::OnceLock<Arc<dyn crate::port::commands::CommandReceiver>>,
}

impl Bridge {
    /// A bridge over `store`, encrypting partner tokens under `token_key`.
    pub fn new(config: OcpiConfig, store: Arc<dyn PartnerStore>, token_key: &[u8; 32]) -> Self {
        let client = OcpiClient::new(UrlPolicy {
            allow_private: config.allow_private_partner_urls,
        });
        Bridge {
            inner: Arc::new(Inner {
                config,
                store,
                cipher: TokenCipher::new(token_key),
                client,
                tariffs: std::sync::OnceLock::new(),
                locations: std::sync::OnceLock::new(),
                tokens: std::sync::OnceLock::new(),
                sessions: std::sync::OnceLock::new(),
                cdrs: std::sync::OnceLock::new(),
                commands: std::sync::OnceLock::new(),
            }),
        }
    }

    /// The routes, to be nested under `/ocpi`.
    pub fn router(&self) -> Router {
        Router::new()
            .route("/versions", get(versions::versions))
            .route(&format!("/{VERSION}"), get(versions::details))
            .route(
                &format!("/{VERSION}/credentials"),
                get(credentials::get)
                    .post(credentials::post)
                    .put(credentials::put)
                    .delete(credentials::delete),
            )
            .route(&format!("/{VERSION}/tariffs"), get(tariffs::list))
            .route(&format!("/{VERSION}/sessions"), get(sessions::list))
            .route(&format!("/{VERSION}/cdrs"), get(cdrs::list))
            .route(
                &format!("/{VERSION}/commands/{{command}}"),
                axum::routing::post(modules::commands::post),
            )
            .route(&format!("/{VERSION}/locations"), get(locations::list))
            .route(
                &format!("/{VERSION}/locations/{{location_id}}"),
                get(locations::location),
            )
            .route(
                &format!("/{VERSION}/locations/{{location_id}}/{{evse_uid}}"),
                get(locations::evse),
            )
            .route(
                &format!("/{VERSION}/locations/{{location_id}}/{{evse_uid}}/{{connector_id}}"),
                get(locations::connector),
            )
            .route(
                &format!("/{VERSION}/tokens/{{country_code}}/{{party_id}}/{{uid}}"),
                get(tokens::get).put(tokens::put).patch(tokens::patch),
            )
            .fallback(|| async { OcpiError::not_found("no such OCPI endpoint") })
            .layer(axum::middleware::from_fn(transport::message_ids))
            .with_state(self.clone())
    }

    fn base_url(&self) -> String {
        format!(
            "{}/ocpi",
            self.inner.config.public_url.trim_end_matches('/')
        )
    }

    /// Our versions endpoint as partners reach it.
    pub fn versions_url(&self) -> String {
        format!("{}/versions", self.base_url())
    }

    /// Our 2.2.1 version details endpoint.
    pub fn version_details_url(&self) -> String {
        format!("{}/{VERSION}", self.base_url())
    }

    /// Our 2.2.1 version details.
    pub fn version_details(&self) -> VersionDetails {
        let base = self.version_details_url();
        VersionDetails {
            version: VERSION.into(),
            endpoints: versions::ENDPOINTS
                .iter()
                .map(|m| Endpoint {
                    identifier: m.identifier.into(),
                    role: m.role.into(),
                    url: format!("{base}/{}", m.path),
                })
                .collect(),
        }
    }

    /// Our credentials object carrying `token` for the partner.
    pub fn our_credentials(&self, token: String) -> Credentials {
        let c = &self.inner.config;
        Credentials {
            token,
            url: self.versions_url(),
            roles: vec![CredentialsRole {
                role: "CPO".into(),
                business_details: BusinessDetails {
                    name: c.business_name.clone(),
                    website: c.business_website.clone(),
                },
                party_id: c.party_id.clone(),
                country_code: c.country_code.clone(),
            }],
        }
    }

    /// Routing headers from us to a partner role, when known (Transport and format: Message
    /// Routing Headers).
    pub fn routing_to(&self, to: Option<&PartnerRole>) -> Routing {
        Routing {
            from: Some(PartyRef {
                country_code: self.inner.config.country_code.clone(),
                party_id: self.inner.config.party_id.clone(),
            }),
            to: to.map(|r| PartyRef {
                country_code: r.country_code.clone(),
                party_id: r.party_id.clone(),
            }),
        }
    }

    /// The bridge serving tariffs from `source` (Tariffs module). The first source set stays.
    pub fn with_tariffs(self, source: Arc<dyn TariffSource>) -> Self {
        // Set once at wiring time; a second call changes nothing.
        let _ = self.inner.tariffs.set(source);
        self
    }

    pub(crate) fn tariff_source(&self) -> Option<&dyn TariffSource> {
        self.inner.tariffs.get().map(|s| s.as_ref())
    }

    /// The bridge serving Locations from `source` (Locations module); a station offline longer
    /// than `offline_grace` has its EVSEs shown UNKNOWN. The first source set stays.
    pub fn with_locations(
        self,
        source: Arc<dyn LocationSource>,
        offline_grace: std::time::Duration,
    ) -> Self {
        let grace = chrono::Duration::from_std(offline_grace).unwrap_or(chrono::Duration::MAX);
        // Set once at wiring time; a second call changes nothing.
        let _ = self.inner.locations.set((source, grace));
        self
    }

    /// Where Locations come from; 3000 when the bridge was built without one.
    pub(crate) fn location_source(&self) -> Result<&dyn LocationSource, OcpiError> {
        self.inner
            .locations
            .get()
            .map(|(s, _)| s.as_ref())
            .ok_or_else(|| OcpiError::internal("the Locations module is not wired"))
    }

    /// The bridge keeping pushed tokens in `store` (Tokens module, Receiver interface). The first
    /// store set stays.
    pub fn with_tokens(self, store: Arc<dyn TokenStore>) -> Self {
        // Set once at wiring time; a second call changes nothing.
        let _ = self.inner.tokens.set(store);
        self
    }

    /// Where tokens are kept; 3000 when the bridge was built without a store.
    pub(crate) fn token_store(&self) -> Result<&dyn TokenStore, OcpiError> {
        self.inner
            .tokens
            .get()
            .map(|s| s.as_ref())
            .ok_or_else(|| OcpiError::internal("the Tokens module is not wired"))
    }

    /// The bridge serving Sessions from `source` (Sessions module). The first source set stays.
    pub fn with_sessions(self, source: Arc<dyn SessionSource>) -> Self {
        // Set once at wiring time; a second call changes nothing.
        let _ = self.inner.sessions.set(source);
        self
    }

    pub(crate) fn session_source(&self) -> Option<&dyn SessionSource> {
        self.inner.sessions.get().map(|s| s.as_ref())
    }

    /// The bridge serving CDRs from `source` (CDRs module). The first source set stays.
    pub fn with_cdrs(self, source: Arc<dyn CdrSource>) -> Self {
        // Set once at wiring time; a second call changes nothing.
        let _ = self.inner.cdrs.set(source);
        self
    }

    pub(crate) fn cdr_source(&self) -> Option<&dyn CdrSource> {
        self.inner.cdrs.get().map(|s| s.as_ref())
    }

    /// The bridge sending commands to `receiver` (Commands module, Receiver interface). Set on
    /// a clone after the gateway exists: the receiver is shared with every clone. The first
    /// receiver set stays.
    pub fn with_commands(self, receiver: Arc<dyn crate::port::commands::CommandReceiver>) -> Self {
        // Set once at wiring time; a second call changes nothing.
        let _ = self.inner.commands.set(receiver);
        self
    }

    /// Where commands go; 3000 when the bridge was built without a receiver.
    pub(crate) fn command_receiver(
        &self,
    ) -> Result<&dyn crate::port::commands::CommandReceiver, OcpiError> {
        self.inner
            .commands
            .get()
            .map(|s| s.as_ref())
            .ok_or_else(|| OcpiError::internal("the Commands module is not wired"))
    }

    /// The real-time authorization of roaming tokens, for the core to ask through its
    /// [`port::tokens::RoamingAuthorizer`] port; the eMSP gets
    /// [`OcpiConfig::realtime_auth_timeout`] to answer.
    pub fn realtime_authorizer(&self) -> RealtimeAuthorizer {
        RealtimeAuthorizer {
            client: self
                .inner
                .client
                .clone()
                .with_timeout(self.inner.config.realtime_auth_timeout),
            cipher: self.inner.cipher.clone(),
            from: PartyRef {
                country_code: self.inner.config.country_code.clone(),
                party_id: self.inner.config.party_id.clone(),
            },
        }
    }

    /// What rendering a Location needs now: our party and the offline grace.
    pub fn render_context(&self) -> locations::RenderContext {
        locations::RenderContext {
            country_code: self.inner.config.country_code.clone(),
            party_id: self.inner.config.party_id.clone(),
            now: chrono::Utc::now(),
            offline_grace: self
                .inner
                .locations
                .get()
                .map_or(chrono::Duration::seconds(300), |(_, g)| *g),
        }
    }

    /// The configuration.
    pub fn config(&self) -> &OcpiConfig {
        &self.inner.config
    }

    pub(crate) fn store(&self) -> &dyn PartnerStore {
        self.inner.store.as_ref()
    }

    pub(crate) fn cipher(&self) -> &TokenCipher {
        &self.inner.cipher
    }

    pub(crate) fn client(&self) -> &OcpiClient {
        &self.inner.client
    }

    /// The partner, the kind of its token and the token itself, for a request's
    /// `Authorization` header; HTTP 401 when it is missing or matches no partner (Transport and
    /// format: Authorization header).
    pub async fn authenticate(
        &self,
        headers: &HeaderMap,
    ) -> Result<(Partner, Credential, String), OcpiError> {
        let candidates = auth::presented_tokens(headers);
        if candidates.is_empty() {
            return Err(OcpiError::unauthorized(
                "missing Authorization: Token header",
            ));
        }
        for token in candidates {
            let found = self
                .store()
                .authenticate(&auth::token_hash(&token))
                .await
                .map_err(|e| OcpiError::internal(e.to_string()))?;
            if let Some((partner, credential)) = found {
                return Ok((partner, credential, token));
            }
        }
        Err(OcpiError::unauthorized("unknown credentials token"))
    }

    /// [`Bridge::authenticate`] for every module but versions and credentials: token A is
    /// refused there with HTTP 401 (Transport and format: Authorization header).
    pub async fn authenticate_registered(&self, headers: &HeaderMap) -> Result<Partner, OcpiError> {
        match self.authenticate(headers).await? {
            (partner, Credential::Registered, _) => Ok(partner),
            _ => Err(OcpiError::unauthorized(
                "this token opens only the versions and credentials modules",
            )),
        }
    }

    /// The operator creates a partner: a fresh token A to hand to the eMSP with our versions
    /// URL, out of band (Credentials: Registration).
    pub async fn create_partner(&self, name: Option<String>) -> Result<NewPartner, BridgeError> {
        let token = auth::new_token();
        let partner = self
            .store()
            .create_pending(name, auth::token_hash(&token))
            .await?;
        Ok(NewPartner {
            partner,
            token,
            versions_url: self.versions_url(),
        })
    }

    /// We register with a partner that gave us its versions URL and token A (Credentials:
    /// Registration, with us as the Sender): fetch its versions and details with A, create our
    /// token B, POST our credentials with B, keep the token C it answers.
    pub async fn register_with(
        &self,
        versions_url: &str,
        token_a: &str,
        name: Option<String>,
    ) -> Result<Partner, BridgeError> {
        let routing = self.routing_to(None);
        let found = credentials::fetch_partner(self, versions_url, token_a, &routing).await?;
        let credentials_url = found
            .endpoints
            .iter()
            .find(|e| e.identifier == "credentials")
            .map(|e| e.url.clone())
            .ok_or_else(|| BridgeError::NoMatchingEndpoints("no credentials endpoint".into()))?;
        // Token B must work before the POST: the partner fetches our versions with it while
        // answering (Credentials: Registration).
        let token_b = auth::new_token();
        let pending = self
            .store()
            .create_pending(name, auth::token_hash(&token_b))
            .await?;
        let answer: Result<Credentials, ClientError> = self
            .client()
            .send(
                reqwest::Method::POST,
                &credentials_url,
                token_a,
                &routing,
                Some(&self.our_credentials(token_b.clone())),
            )
            .await;
        let theirs = match answer {
            Ok(c) if !c.token.is_empty() && !c.roles.is_empty() => c,
            Ok(_) => {
                self.store().remove(pending.id).await?;
                return Err(BridgeError::Handshake(
                    "the partner's credentials lack a token or roles".into(),
                ));
            }
            Err(e) => {
                self.store().remove(pending.id).await?;
                return Err(e.into());
            }
        };
        let roles = theirs
            .roles
            .iter()
            .map(|r| PartnerRole {
                role: r.role.clone(),
                country_code: r.country_code.clone(),
                party_id: r.party_id.clone(),
                business_name: r.business_details.name.clone(),
                business_website: r.business_details.website.clone(),
            })
            .collect();
        Ok(self
            .store()
            .register(
                pending.id,
                Registration {
                    roles,
                    endpoints: found.endpoints,
                    version: found.version,
                    versions_url: versions_url.to_owned(),
                    token_hash: auth::token_hash(&token_b),
                    their_token: self.cipher().encrypt(&theirs.token),
                },
            )
            .await?)
    }

    /// Every partner.
    pub async fn partners(&self) -> Result<Vec<Partner>, BridgeError> {
        Ok(self.store().list().await?)
    }
}
