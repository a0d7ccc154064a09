//! Sessions as the bridge reads them (OCPI 2.2.1 Sessions module, CPO Sender interface): the
//! facts of a transaction started with a roaming token, which the core implements
//! [`SessionSource`] over. The bridge renders them (`modules::sessions::render_session`) for the
//! GET list and for the pushes to the owning eMSP's Receiver interface.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use super::tariffs::Price;
use super::tokens::TokenType;
use super::{PartnerId, StoreError};
use crate::pricing::ChargingPeriod;

/// SessionStatus enum (Sessions: SessionStatus enum); only the values we send.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum SessionStatus {
    /// Charging (or about to) with an accepted token.
    Active,
    /// Ended; no further changes but the CDR.
    Completed,
    /// The token was refused: the session will never charge.
    Invalid,
}

/// AuthMethod enum (CDRs: AuthMethod enum).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum AuthMethod {
    /// The eMSP authorized it in real time.
    AuthRequest,
    /// The stored token (its whitelist) decided.
    Whitelist,
    /// The eMSP started it with a START_SESSION command (Commands module).
    Command,
}

impl AuthMethod {
    /// Parses the stored name.
    pub fn parse(s: &str) -> Option<AuthMethod> {
        match s {
            "AUTH_REQUEST" => Some(AuthMethod::AuthRequest),
            "WHITELIST" => Some(AuthMethod::Whitelist),
            "COMMAND" => Some(AuthMethod::Command),
            _ => None,
        }
    }
}

/// The token a session was started with (CDRs: CdrToken class). One type for the Session and
/// its CDR (`port::cdrs` re-exports it), so the core fills both from a token row the same way;
/// serialized as the CDR stores it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CdrToken {
    /// Country code of the eMSP that issued it.
    pub country_code: String,
    /// Party id of that eMSP.
    pub party_id: String,
    /// Its uid.
    pub uid: String,
    /// Its type.
    #[serde(rename = "type")]
    pub token_type: TokenType,
    /// Its contract id.
    pub contract_id: String,
}

/// What a Session is rendered from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionFacts {
    /// Our session id (the transaction id).
    pub id: String,
    /// The partner owning the token, the only one to see the session.
    pub owner: PartnerId,
    /// When the station started it.
    pub start_date_time: DateTime<Utc>,
    /// When it stopped, once it did.
    pub end_date_time: Option<DateTime<Utc>>,
    /// Energy so far, in kWh.
    pub kwh: Decimal,
    /// The token that started it.
    pub cdr_token: CdrToken,
    /// How the token was authorized.
    pub auth_method: AuthMethod,
    /// The eMSP's reference from a real-time authorization.
    pub authorization_reference: Option<String>,
    /// The Location of the EVSE.
    pub location_id: String,
    /// The EVSE's uid.
    pub evse_uid: String,
    /// The connector's id.
    pub connector_id: String,
    /// Where it stands.
    pub status: SessionStatus,
    /// The charging periods priced so far; empty when no tariff applies.
    pub charging_periods: Vec<ChargingPeriod>,
    /// The cost so far (excl. and incl. VAT), when a tariff applies.
    pub total_cost: Option<Price>,
    /// When it last changed.
    pub last_updated: DateTime<Utc>,
}

/// Where sessions come from; implemented by the core.
#[async_trait]
pub trait SessionSource: Send + Sync + 'static {
    /// One session by id; `None` when there is none (or its EVSE is not on a Location).
    async fn session(&self, id: &str) -> Result<Option<SessionFacts>, StoreError>;

    /// Every session of tokens `owner` owns, oldest first.
    async fn sessions(&self, owner: PartnerId) -> Result<Vec<SessionFacts>, StoreError>;
}
