//! OCPI Sessions, the core's side (OCPI 2.2.1 Sessions module, CPO Sender interface): the
//! session pushes a transaction started with a roaming token owes the token's eMSP, written in
//! the transaction of the change, and the bridge's [`SessionSource`] over the transactions.
//! Both OCPP versions write them: 1.6 from `transactions.rs`, 2.0.1 from its TransactionEvents
//! (`transaction_events.rs`).
//!
//! A transaction whose EVSE is on no Location has no Session: OCPI requires `location_id`,
//! `evse_uid` and `connector_id`, so nothing is written or served for it.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use ocpi_bridge::port::locations::EvseSpec;
use ocpi_bridge::port::outbox::{OutboxState, PushOperation, SESSIONS};
use ocpi_bridge::port::sessions::{
    AuthMethod, CdrToken, SessionFacts, SessionSource, SessionStatus,
};
use ocpi_bridge::port::tariffs::Price;
use ocpi_bridge::port::tokens::TokenType;
use ocpi_bridge::port::{PartnerEndpoint, PartnerId, PartnerStatus, StoreError};
use ocpi_bridge::pricing::{price_session, ChargingPeriod};
use rust_decimal::Decimal;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, IntoActiveModel,
    QueryFilter, QueryOrder,
};

use super::transactions::parse_wh;
use super::usage::{session_place, session_tariff, session_usage};
use super::{Core, CoreError};
use crate::entities::{location_evse, ocpi_outbox, ocpi_partner, ocpi_token, transaction};

fn storage(e: sea_orm::DbErr) -> StoreError {
    StoreError::Storage(e.to_string())
}

/// The CdrToken of roaming token row `token`. The Session and the CDR of a transaction both
/// carry it, so they are filled here, once, and cannot name the token differently; a type we
/// no longer recognise is OTHER rather than no Session or CDR at all.
pub(super) fn cdr_token(token: ocpi_token::Model) -> CdrToken {
    CdrToken {
        country_code: token.country_code,
        party_id: token.party_id,
        uid: token.uid,
        token_type: TokenType::parse(&token.token_type).unwrap_or(TokenType::Other),
        contract_id: token.contract_id,
    }
}

/// How the token of `tx` was authorized, for its Session and its CDR alike: what was recorded
/// when it started, or WHITELIST (the stored token decided) for a transaction that recorded
/// none.
pub(super) fn auth_method(tx: &transaction::Model) -> AuthMethod {
    tx.ocpi_auth_method
        .as_deref()
        .and_then(AuthMethod::parse)
        .unwrap_or(AuthMethod::Whitelist)
}

/// A new pending push row: `operation` on object `key` of `module` to partner `partner_id`,
/// written at `now` and due at `due`. Sessions, CDRs and command results each write their
/// single eMSP's row with it, so every push starts in the state the worker claims.
pub(super) fn pending_push(
    partner_id: i64,
    module: &str,
    key: String,
    operation: PushOperation,
    now: DateTime<Utc>,
    due: DateTime<Utc>,
) -> ocpi_outbox::ActiveModel {
    ocpi_outbox::ActiveModel {
        partner_id: Set(partner_id),
        module: Set(module.to_owned()),
        object_key: Set(key),
        operation: Set(operation.as_str().to_owned()),
        created_at: Set(now),
        attempts: Set(0),
        next_attempt_at: Set(due),
        state: Set(OutboxState::Pending.as_str().to_owned()),
        claimed_at: Set(None),
        last_error: Set(None),
        delivered_at: Set(None),
        ..Default::default()
    }
}

/// What a session push is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SessionChange {
    /// The transaction started: PUT, due now.
    Started,
    /// The energy moved: PATCH, at most one per session per update interval.
    Charging,
    /// The transaction stopped: PUT with COMPLETED, due now, after any waiting PATCH.
    Stopped,
}

impl Core {
    /// The Location EVSE the station's EVSE is, if it is on a Location.
    async fn mapped_evse<C: ConnectionTrait>(
        conn: &C,
        station_id: &str,
        evse_id: i32,
    ) -> Result<Option<location_evse::Model>, sea_orm::DbErr> {
        location_evse::Entity::find()
            .filter(location_evse::Column::StationId.eq(station_id))
            .filter(location_evse::Column::EvseId.eq(evse_id))
            .order_by_asc(location_evse::Column::LocationId)
            .one(conn)
            .await
    }

    /// Whether partner `partner_id` is registered with a RECEIVER endpoint for `module`, read
    /// on `conn` (the caller's transaction). Sessions and CDRs go to the one eMSP owning the
    /// token, and only when it has that endpoint; otherwise it pulls them with GET.
    pub(super) async fn partner_receives<C: ConnectionTrait>(
        conn: &C,
        partner_id: i64,
        module: &str,
    ) -> Result<bool, CoreError> {
        let Some(partner) = ocpi_partner::Entity::find_by_id(partner_id)
            .one(conn)
            .await?
        else {
            return Ok(false);
        };
        Ok(partner.status == PartnerStatus::Registered.as_str()
            && serde_json::from_str::<Vec<PartnerEndpoint>>(&partner.endpoints)
                .unwrap_or_default()
                .iter()
                .any(|e| e.identifier == module && e.role.eq_ignore_ascii_case("RECEIVER")))
    }

    /// Writes, on `conn` (the transaction of the change), the session push `change` of `tx` owes
    /// the eMSP owning its token: only to that partner, only when it is registered with a
    /// sessions RECEIVER and the EVSE is on a Location. Returns whether a row was written or
    /// moved, so the caller wakes the worker after its commit.
    pub(crate) async fn enqueue_session<C: ConnectionTrait>(
        &self,
        conn: &C,
        tx: &transaction::Model,
        change: SessionChange,
    ) -> Result<bool, CoreError> {
        let Some(partner_id) = tx.ocpi_partner_id else {
            return Ok(false);
        };
        if Self::mapped_evse(conn, &tx.station_id, tx.evse_id)
            .await?
            .is_none()
        {
            return Ok(false);
        }
        if !Self::partner_receives(conn, partner_id, SESSIONS).await? {
            return Ok(false);
        }
        let key = tx.id.to_string();
        let now = self.now();
        let rows = ocpi_outbox::Entity::find()
            .filter(ocpi_outbox::Column::PartnerId.eq(partner_id))
            .filter(ocpi_outbox::Column::Module.eq(SESSIONS))
            .filter(ocpi_outbox::Column::ObjectKey.eq(key.as_str()))
            .order_by_desc(ocpi_outbox::Column::Id)
            .all(conn)
            .await?;
        let waiting = |r: &&ocpi_outbox::Model| {
            r.state == OutboxState::Pending.as_str() && r.claimed_at.is_none()
        };
        let (operation, at) = match change {
            SessionChange::Started => (PushOperation::Put, now),
            SessionChange::Charging => {
                // A waiting PATCH renders the latest energy when it is sent.
                if rows
                    .iter()
                    .filter(waiting)
                    .any(|r| r.operation == PushOperation::Patch.as_str())
                {
                    return Ok(false);
                }
                // Sessions: PATCH method: updates are throttled to one per interval after the
                // previous push of the session.
                let interval = chrono::Duration::from_std(self.policy.session_update_interval)
                    .unwrap_or(chrono::Duration::MAX);
                let after = rows
                    .first()
                    .map_or(now, |r| r.created_at.max(r.next_attempt_at) + interval);
                (PushOperation::Patch, after.max(now))
            }
            SessionChange::Stopped => {
                // Rows of an object go in order: a PATCH scheduled for later would hold the
                // final PUT back, so it goes now.
                for r in rows.iter().filter(waiting) {
                    if r.next_attempt_at > now && r.attempts == 0 {
                        let mut active = r.clone().into_active_model();
                        active.next_attempt_at = Set(now);
                        active.update(conn).await?;
                    }
                }
                (PushOperation::Put, now)
            }
        };
        pending_push(partner_id, SESSIONS, key, operation, now, at)
            .insert(conn)
            .await?;
        Ok(true)
    }

    /// The Session facts of a transaction, `None` when it has no roaming token or its EVSE is on
    /// no Location.
    async fn session_facts(
        &self,
        tx: transaction::Model,
    ) -> Result<Option<SessionFacts>, sea_orm::DbErr> {
        let (Some(owner), Some(token_id)) = (tx.ocpi_partner_id, tx.ocpi_token_id) else {
            return Ok(None);
        };
        let Some(evse) = Self::mapped_evse(&self.db, &tx.station_id, tx.evse_id).await? else {
            return Ok(None);
        };
        let Some(token) = ocpi_token::Entity::find_by_id(token_id)
            .one(&self.db)
            .await?
        else {
            return Ok(None);
        };
        // The operator's connector ids are the station's connector numbers (Locations:
        // Connector object); an EVSE described with other ids shows its first.
        let wanted = tx.connector_id.to_string();
        let connectors = serde_json::from_str::<EvseSpec>(&evse.details)
            .map(|s| s.connectors)
            .unwrap_or_default();
        let connector_id = connectors
            .iter()
            .find(|c| c.id == wanted)
            .or(connectors.first())
            .map_or(wanted, |c| c.id.clone());
        let (charging_periods, total_cost) = self.session_cost(&tx).await?;
        let latest = tx.meter_stop_wh.as_deref().or(tx.last_meter_wh.as_deref());
        let wh = latest
            .map(|l| (parse_wh(l) - parse_wh(&tx.meter_start_wh)).max(Decimal::ZERO))
            .unwrap_or_default();
        let status = if tx.authorization_status != "Accepted" {
            SessionStatus::Invalid
        } else if tx.state == "Stopped" {
            SessionStatus::Completed
        } else {
            SessionStatus::Active
        };
        Ok(Some(SessionFacts {
            id: tx.id.to_string(),
            owner: PartnerId(owner),
            start_date_time: tx.started_at,
            end_date_time: tx.stopped_at,
            kwh: wh / Decimal::from(1000),
            cdr_token: cdr_token(token),
            auth_method: auth_method(&tx),
            authorization_reference: tx.authorization_reference,
            location_id: evse.location_id,
            evse_uid: evse.uid,
            connector_id,
            status,
            charging_periods,
            total_cost,
            last_updated: tx.updated_at,
        }))
    }

    /// The charging periods and cost of `tx` so far, by the tariff of its connector (the one
    /// its CDR will be priced by, `usage.rs`), up to its stop or its latest reading. Nothing
    /// when no tariff applies or the usage cannot be priced: both are optional in a Session,
    /// and the CDR says why a session cannot be billed.
    async fn session_cost(
        &self,
        tx: &transaction::Model,
    ) -> Result<(Vec<ChargingPeriod>, Option<Price>), sea_orm::DbErr> {
        let none = || (Vec::new(), None);
        let db = |e: CoreError| match e {
            CoreError::Db(e) => e,
            other => sea_orm::DbErr::Custom(other.to_string()),
        };
        let Some(place) = session_place(&self.db, tx).await.map_err(db)? else {
            return Ok(none());
        };
        let Ok(Some(tariff)) = session_tariff(&self.db, tx, &place.connector)
            .await
            .map_err(db)?
        else {
            return Ok(none());
        };
        // While it runs, the Session is priced up to its latest reading, the moment its kwh
        // stands for; `last_updated` moves with it.
        let until = tx.last_meter_at.unwrap_or(tx.started_at).max(tx.started_at);
        let Ok(usage) = session_usage(&self.db, tx, until).await.map_err(db)? else {
            return Ok(none());
        };
        match price_session(Some(&tariff), &place.site.time_zone, &usage) {
            Ok(priced) => Ok((priced.charging_periods, Some(priced.total_cost))),
            Err(e) => {
                tracing::debug!(transaction_id = tx.id, error = %e, "session not priced");
                Ok(none())
            }
        }
    }
}

#[async_trait]
impl SessionSource for Core {
    async fn session(&self, id: &str) -> Result<Option<SessionFacts>, StoreError> {
        let Ok(id) = id.parse::<i32>() else {
            return Ok(None);
        };
        let Some(tx) = transaction::Entity::find_by_id(id)
            .one(&self.db)
            .await
            .map_err(storage)?
        else {
            return Ok(None);
        };
        self.session_facts(tx).await.map_err(storage)
    }

    async fn sessions(&self, owner: PartnerId) -> Result<Vec<SessionFacts>, StoreError> {
        let rows = transaction::Entity::find()
            .filter(transaction::Column::OcpiPartnerId.eq(owner.0))
            .order_by_asc(transaction::Column::Id)
            .all(&self.db)
            .await
            .map_err(storage)?;
        let mut out = Vec::with_capacity(rows.len());
        for tx in rows {
            if let Some(facts) = self.session_facts(tx).await.map_err(storage)? {
                out.push(facts);
            }
        }
        Ok(out)
    }
}
