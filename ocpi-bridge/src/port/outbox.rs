//! The durable push outbox as the bridge sees it: rows naming a partner, a module, an object and
//! an operation (OCPI 2.2.1 Locations and Tariffs, Receiver interfaces). The core writes rows in
//! the same database transaction as the change that causes them and implements [`Outbox`]; the
//! push worker (`push.rs`) claims due rows, renders the object from current state and sends it.
//!
//! Delivery is at least once and in order per object: only the oldest pending row of a
//! (partner, object) is ever handed out.

use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::{PartnerId, StoreError};

/// The module a push belongs to, named as in the partner's endpoint list.
pub const LOCATIONS: &str = "locations";
/// See [`LOCATIONS`].
pub const TARIFFS: &str = "tariffs";
/// See [`LOCATIONS`]; the object key is the session id.
pub const SESSIONS: &str = "sessions";
/// See [`LOCATIONS`]; the object key is our CDR id, the operation POST.
pub const CDRS: &str = "cdrs";
/// See [`LOCATIONS`]; the object key is the command id, the operation POST to the command's
/// `response_url` (Commands: Sender interface).
pub const COMMANDS: &str = "commands";

/// What the receiver is asked to do with the object.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum PushOperation {
    /// Create or replace the whole object.
    Put,
    /// Change some fields (here: an EVSE's status and `last_updated`).
    Patch,
    /// Remove it (Tariffs only: OCPI Locations has no DELETE).
    Delete,
    /// Create it at the receiver's endpoint itself (CDRs: Receiver interface, POST).
    Post,
}

impl PushOperation {
    /// The stored name, also the HTTP method.
    pub fn as_str(self) -> &'static str {
        match self {
            PushOperation::Put => "PUT",
            PushOperation::Patch => "PATCH",
            PushOperation::Delete => "DELETE",
            PushOperation::Post => "POST",
        }
    }

    /// Parses a stored name.
    pub fn parse(s: &str) -> Option<PushOperation> {
        match s {
            "PUT" => Some(PushOperation::Put),
            "PATCH" => Some(PushOperation::Patch),
            "DELETE" => Some(PushOperation::Delete),
            "POST" => Some(PushOperation::Post),
            _ => None,
        }
    }
}

/// Where a row stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OutboxState {
    /// Waiting for delivery (possibly after a failed attempt).
    Pending,
    /// The partner accepted it.
    Delivered,
    /// Given up after the maximum number of attempts; the operator may redeliver it.
    Parked,
}

impl OutboxState {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            OutboxState::Pending => "pending",
            OutboxState::Delivered => "delivered",
            OutboxState::Parked => "parked",
        }
    }

    /// Parses a stored name.
    pub fn parse(s: &str) -> Option<OutboxState> {
        match s {
            "pending" => Some(OutboxState::Pending),
            "delivered" => Some(OutboxState::Delivered),
            "parked" => Some(OutboxState::Parked),
            _ => None,
        }
    }
}

/// The object key of an EVSE: its Location id and its uid (neither may hold a `/`).
pub fn evse_key(location_id: &str, evse_uid: &str) -> String {
    format!("{location_id}/{evse_uid}")
}

/// One push owed to a partner.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OutboxRow {
    /// Delivery order.
    pub id: i64,
    /// The partner.
    pub partner_id: PartnerId,
    /// [`LOCATIONS`] or [`TARIFFS`].
    pub module: String,
    /// Location id, [`evse_key`], or tariff id.
    pub object_key: String,
    /// What to do.
    pub operation: PushOperation,
    /// When the change committed.
    pub created_at: DateTime<Utc>,
    /// Failed attempts so far.
    pub attempts: u32,
    /// Not sent before this.
    pub next_attempt_at: DateTime<Utc>,
    /// Where it stands.
    pub state: OutboxState,
    /// Why the last attempt failed.
    pub last_error: Option<String>,
    /// When the partner accepted it.
    pub delivered_at: Option<DateTime<Utc>>,
}

/// The outbox, implemented by the core. Every method returns after its commit.
#[async_trait]
pub trait Outbox: Send + Sync + 'static {
    /// Releases rows a previous process claimed and never finished, so they are sent again
    /// (at-least-once delivery across a crash). Called once at start-up.
    async fn reset_claims(&self) -> Result<u64, StoreError>;

    /// Claims up to `limit` due rows (pending, `next_attempt_at <= now`, unclaimed) in id order,
    /// each the oldest pending row of its (partner, object), none whose object already has a
    /// claimed row.
    async fn claim_due(&self, now: DateTime<Utc>, limit: u64)
        -> Result<Vec<OutboxRow>, StoreError>;

    /// The partner accepted the row.
    async fn complete(&self, id: i64, at: DateTime<Utc>) -> Result<(), StoreError>;

    /// An attempt failed: count it, release the claim and try again at `next_attempt_at`.
    async fn fail(
        &self,
        id: i64,
        error: &str,
        next_attempt_at: DateTime<Utc>,
    ) -> Result<(), StoreError>;

    /// Gives up on the row until the operator redelivers it.
    async fn park(&self, id: i64, error: &str) -> Result<(), StoreError>;

    /// Rows in `state` (all when `None`), newest first, and how many there are in all.
    async fn list(
        &self,
        state: Option<OutboxState>,
        offset: u64,
        limit: u64,
    ) -> Result<(Vec<OutboxRow>, u64), StoreError>;

    /// A parked row becomes pending again, due now, attempts reset. `None` when there is no
    /// such parked row.
    async fn redeliver(&self, id: i64, now: DateTime<Utc>)
        -> Result<Option<OutboxRow>, StoreError>;

    /// Notified after every commit that wrote outbox rows, so the worker sends promptly.
    fn wake(&self) -> Arc<tokio::sync::Notify>;
}
