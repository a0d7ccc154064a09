//! What the bridge needs from the core: a place to keep partners and the credentials that link
//! them to us. The core implements [`PartnerStore`]; the bridge never touches storage itself.
//!
//! Tokens never cross this port in clear: the tokens partners present to us arrive as SHA-256
//! hashes, the tokens we present to them as AES-GCM ciphertexts (see `auth.rs`).

pub mod cdrs;
pub mod commands;
pub mod locations;
pub mod outbox;
pub mod sessions;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

pub mod tariffs;
pub mod tokens;

/// The core's id of a partner.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct PartnerId(pub i64);

/// Where a partner stands in the credentials handshake (OCPI 2.2.1 Credentials module: Registration).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum PartnerStatus {
    /// Created, handshake not finished: only the pending token (A, or our B while we initiate)
    /// is known, and it opens only versions and credentials.
    Pending,
    /// Handshake done: both sides hold a token for the other.
    Registered,
    /// The partner unregistered (DELETE credentials): no token of it is accepted.
    Unregistered,
}

impl PartnerStatus {
    /// The name stored and shown in the operator API.
    pub fn as_str(self) -> &'static str {
        match self {
            PartnerStatus::Pending => "PENDING",
            PartnerStatus::Registered => "REGISTERED",
            PartnerStatus::Unregistered => "UNREGISTERED",
        }
    }

    /// Parses a stored name.
    pub fn parse(s: &str) -> Option<PartnerStatus> {
        match s {
            "PENDING" => Some(PartnerStatus::Pending),
            "REGISTERED" => Some(PartnerStatus::Registered),
            "UNREGISTERED" => Some(PartnerStatus::Unregistered),
            _ => None,
        }
    }
}

/// One role a partner plays: who it is and in which capacity (OCPI 2.2.1 Credentials: CredentialsRole class).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PartnerRole {
    /// `CPO`, `EMSP`, `HUB`, `NAP`, `NSP`, `OTHER`, `SCSP` (OCPI 2.2.1 Types: Role enum).
    pub role: String,
    /// ISO 3166 alpha-2 country code.
    pub country_code: String,
    /// Party id (3 characters).
    pub party_id: String,
    /// Business name.
    pub business_name: String,
    /// Business website, when given.
    pub business_website: Option<String>,
}

/// One module endpoint a partner offers (OCPI 2.2.1 Version information: Endpoint class).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PartnerEndpoint {
    /// Module identifier (`credentials`, `locations`, ...).
    pub identifier: String,
    /// `SENDER` or `RECEIVER`.
    pub role: String,
    /// The endpoint's URL.
    pub url: String,
}

/// A partner as the store keeps it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Partner {
    /// The core's id.
    pub id: PartnerId,
    /// A name the operator gave it.
    pub name: Option<String>,
    /// Where the handshake stands.
    pub status: PartnerStatus,
    /// Its roles (empty until registered).
    pub roles: Vec<PartnerRole>,
    /// Its endpoints for the agreed version (empty until registered).
    pub endpoints: Vec<PartnerEndpoint>,
    /// The OCPI version agreed on.
    pub version: Option<String>,
    /// Its versions endpoint.
    pub versions_url: Option<String>,
    /// The token we present to it, AES-GCM encrypted (see `auth::TokenCipher`).
    pub their_token: Option<String>,
    /// When it was created.
    pub created_at: DateTime<Utc>,
    /// When it last changed.
    pub updated_at: DateTime<Utc>,
}

/// Which of a partner's tokens a request presented.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Credential {
    /// The pending token: token A (or our token B while we initiate). Opens versions and
    /// credentials only (OCPI 2.2.1 Transport and format: Authorization header).
    Pending,
    /// The registered token (C, or B when we initiated): opens every module.
    Registered,
}

/// What a finished handshake stores, for a POST, a PUT or one we initiated.
#[derive(Debug, Clone)]
pub struct Registration {
    /// The partner's roles.
    pub roles: Vec<PartnerRole>,
    /// The partner's endpoints.
    pub endpoints: Vec<PartnerEndpoint>,
    /// The agreed version.
    pub version: String,
    /// The partner's versions URL.
    pub versions_url: String,
    /// Hash of the token the partner presents to us from now on.
    pub token_hash: String,
    /// The token we present to the partner, encrypted.
    pub their_token: String,
}

/// A storage failure, or a conflict the store detected.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// No such partner.
    #[error("partner not found")]
    NotFound,
    /// The storage failed.
    #[error("storage: {0}")]
    Storage(String),
}

/// Where partners live. Every method returns after its commit.
#[async_trait]
pub trait PartnerStore: Send + Sync + 'static {
    /// Creates a partner in [`PartnerStatus::Pending`], reachable with the pending token whose
    /// hash is given.
    async fn create_pending(
        &self,
        name: Option<String>,
        pending_token_hash: String,
    ) -> Result<Partner, StoreError>;

    /// The partner a token hash belongs to and which of its tokens it is. Unregistered partners
    /// have no tokens.
    async fn authenticate(
        &self,
        token_hash: &str,
    ) -> Result<Option<(Partner, Credential)>, StoreError>;

    /// Stores a finished handshake: the partner becomes [`PartnerStatus::Registered`], its
    /// pending token and any older registered token stop working.
    async fn register(
        &self,
        id: PartnerId,
        registration: Registration,
    ) -> Result<Partner, StoreError>;

    /// Unregisters a partner: every token of it stops working, in both directions.
    async fn unregister(&self, id: PartnerId) -> Result<(), StoreError>;

    /// Removes a partner whose handshake we initiated and that failed.
    async fn remove(&self, id: PartnerId) -> Result<(), StoreError>;

    /// Every partner, oldest first.
    async fn list(&self) -> Result<Vec<Partner>, StoreError>;
}
