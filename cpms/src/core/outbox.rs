//! The OCPI push outbox, the core's side: rows written in the same database transaction as the
//! change that causes them (a status, a disconnect, an operator's Location or Tariff action), and
//! the bridge's [`Outbox`] port over them. The core knows module names, object keys and
//! operations only; what is sent, and how, is the bridge's (`ocpi_bridge::push`).
//!
//! Rows refer to objects, not payloads, so consecutive pushes of one object coalesce: a new row
//! is skipped when an identical pending, unclaimed row will be sent no earlier than it would.

use std::collections::HashSet;
use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use ocpi_bridge::port::outbox::{
    evse_key, Outbox, OutboxRow, OutboxState, PushOperation, LOCATIONS,
};
use ocpi_bridge::port::{PartnerEndpoint, PartnerId, PartnerStatus, StoreError};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, IntoActiveModel,
    PaginatorTrait, QueryFilter, QueryOrder, QuerySelect,
};

use super::{Core, CoreError};
use crate::entities::{location_evse, ocpi_outbox, ocpi_partner};

/// Pending rows looked at per claim; bounds the work of one round.
const SCAN: u64 = 1000;

fn storage(e: sea_orm::DbErr) -> StoreError {
    StoreError::Storage(e.to_string())
}

fn to_row(m: ocpi_outbox::Model) -> OutboxRow {
    OutboxRow {
        id: m.id,
        partner_id: PartnerId(m.partner_id),
        module: m.module,
        object_key: m.object_key,
        // Only this file writes these columns.
        operation: PushOperation::parse(&m.operation).unwrap_or(PushOperation::Put),
        created_at: m.created_at,
        attempts: u32::try_from(m.attempts).unwrap_or(0),
        next_attempt_at: m.next_attempt_at,
        state: OutboxState::parse(&m.state).unwrap_or(OutboxState::Parked),
        last_error: m.last_error,
        delivered_at: m.delivered_at,
    }
}

impl Core {
    /// Registered partners with a RECEIVER endpoint for `module`, read on `conn` (the caller's
    /// transaction).
    async fn receivers<C: ConnectionTrait>(
        &self,
        conn: &C,
        module: &str,
    ) -> Result<Vec<i64>, CoreError> {
        let rows = ocpi_partner::Entity::find()
            .filter(ocpi_partner::Column::Status.eq(PartnerStatus::Registered.as_str()))
            .order_by_asc(ocpi_partner::Column::Id)
            .all(conn)
            .await?;
        Ok(rows
            .into_iter()
            .filter(|p| {
                serde_json::from_str::<Vec<PartnerEndpoint>>(&p.endpoints)
                    .unwrap_or_default()
                    .iter()
                    .any(|e| e.identifier == module && e.role.eq_ignore_ascii_case("RECEIVER"))
            })
            .map(|p| p.id)
            .collect())
    }

    /// Writes, on `conn` (the transaction of the change), a push of `key` with `operation` to
    /// every partner receiving `module`, due at `at`. When an identical pending, unclaimed row
    /// will render the state at `at` or later, no new row is written ("consecutive status
    /// pushes for one EVSE may be coalesced to the latest"), and such a row still on its first
    /// attempt is brought forward to `at`. Returns whether any partner receives `module`.
    pub(crate) async fn enqueue_push<C: ConnectionTrait>(
        &self,
        conn: &C,
        module: &str,
        key: &str,
        operation: PushOperation,
        at: DateTime<Utc>,
    ) -> Result<bool, CoreError> {
        let partners = self.receivers(conn, module).await?;
        // A row due now covers any row due earlier; a scheduled one (the offline grace) only a
        // row due no earlier, or the state at `at` would never be sent.
        let scheduled = at > self.now();
        for partner in &partners {
            let mut waiting = ocpi_outbox::Entity::find()
                .filter(ocpi_outbox::Column::PartnerId.eq(*partner))
                .filter(ocpi_outbox::Column::ObjectKey.eq(key))
                .filter(ocpi_outbox::Column::Module.eq(module))
                .filter(ocpi_outbox::Column::Operation.eq(operation.as_str()))
                .filter(ocpi_outbox::Column::State.eq(OutboxState::Pending.as_str()))
                .filter(ocpi_outbox::Column::ClaimedAt.is_null());
            if scheduled {
                waiting = waiting.filter(ocpi_outbox::Column::NextAttemptAt.gte(at));
            }
            let waiting = waiting
                .order_by_desc(ocpi_outbox::Column::Id)
                .one(conn)
                .await?;
            if let Some(row) = waiting {
                if row.attempts == 0 && row.next_attempt_at > at {
                    let mut active = row.into_active_model();
                    active.next_attempt_at = Set(at);
                    active.update(conn).await?;
                }
                continue;
            }
            ocpi_outbox::ActiveModel {
                partner_id: Set(*partner),
                module: Set(module.to_owned()),
                object_key: Set(key.to_owned()),
                operation: Set(operation.as_str().to_owned()),
                created_at: Set(self.now()),
                attempts: Set(0),
                next_attempt_at: Set(at),
                state: Set(OutboxState::Pending.as_str().to_owned()),
                claimed_at: Set(None),
                last_error: Set(None),
                delivered_at: Set(None),
                ..Default::default()
            }
            .insert(conn)
            .await?;
        }
        Ok(!partners.is_empty())
    }

    /// Writes, on `conn`, a PATCH of every OCPI EVSE that is the station's EVSE `evse_id` (all
    /// of the station's for EVSE 0, the station itself), due at `at`.
    pub(crate) async fn enqueue_evse_patches<C: ConnectionTrait>(
        &self,
        conn: &C,
        station_id: &str,
        evse_id: Option<i32>,
        at: DateTime<Utc>,
    ) -> Result<bool, CoreError> {
        let mut query =
            location_evse::Entity::find().filter(location_evse::Column::StationId.eq(station_id));
        if let Some(evse_id) = evse_id.filter(|e| *e != 0) {
            query = query.filter(location_evse::Column::EvseId.eq(evse_id));
        }
        let mut any = false;
        for e in query.all(conn).await? {
            any |= self
                .enqueue_push(
                    conn,
                    LOCATIONS,
                    &evse_key(&e.location_id, &e.uid),
                    PushOperation::Patch,
                    at,
                )
                .await?;
        }
        Ok(any)
    }

    /// Tells the push worker that rows were committed.
    pub(crate) fn wake_push(&self) {
        self.push_wake.notify_one();
    }
}

#[async_trait]
impl Outbox for Core {
    async fn reset_claims(&self) -> Result<u64, StoreError> {
        let done = ocpi_outbox::Entity::update_many()
            .col_expr(
                ocpi_outbox::Column::ClaimedAt,
                Option::<DateTime<Utc>>::None.into(),
            )
            .filter(ocpi_outbox::Column::ClaimedAt.is_not_null())
            .filter(ocpi_outbox::Column::State.eq(OutboxState::Pending.as_str()))
            .exec(&self.db)
            .await
            .map_err(storage)?;
        Ok(done.rows_affected)
    }

    async fn claim_due(
        &self,
        now: DateTime<Utc>,
        limit: u64,
    ) -> Result<Vec<OutboxRow>, StoreError> {
        let pending = ocpi_outbox::Entity::find()
            .filter(ocpi_outbox::Column::State.eq(OutboxState::Pending.as_str()))
            .order_by_asc(ocpi_outbox::Column::Id)
            .limit(SCAN)
            .all(&self.db)
            .await
            .map_err(storage)?;
        // In order per object: only the oldest pending row of a (partner, object) may go, and
        // none while an older one is in flight.
        let mut seen = HashSet::new();
        let mut claimed = Vec::new();
        for row in pending {
            if !seen.insert((row.partner_id, row.module.clone(), row.object_key.clone())) {
                continue;
            }
            if row.claimed_at.is_some() || row.next_attempt_at > now {
                continue;
            }
            // Conditional on the row still being unclaimed: a second worker cannot take it too.
            let done = ocpi_outbox::Entity::update_many()
                .col_expr(ocpi_outbox::Column::ClaimedAt, Some(now).into())
                .filter(ocpi_outbox::Column::Id.eq(row.id))
                .filter(ocpi_outbox::Column::ClaimedAt.is_null())
                .filter(ocpi_outbox::Column::State.eq(OutboxState::Pending.as_str()))
                .exec(&self.db)
                .await
                .map_err(storage)?;
            if done.rows_affected == 1 {
                claimed.push(to_row(row));
                if claimed.len() as u64 >= limit {
                    break;
                }
            }
        }
        Ok(claimed)
    }

    async fn complete(&self, id: i64, at: DateTime<Utc>) -> Result<(), StoreError> {
        ocpi_outbox::Entity::update_many()
            .col_expr(
                ocpi_outbox::Column::State,
                OutboxState::Delivered.as_str().into(),
            )
            .col_expr(ocpi_outbox::Column::DeliveredAt, Some(at).into())
            .col_expr(
                ocpi_outbox::Column::ClaimedAt,
                Option::<DateTime<Utc>>::None.into(),
            )
            .filter(ocpi_outbox::Column::Id.eq(id))
            .exec(&self.db)
            .await
            .map_err(storage)?;
        Ok(())
    }

    async fn fail(
        &self,
        id: i64,
        error: &str,
        next_attempt_at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let row = ocpi_outbox::Entity::find_by_id(id)
            .one(&self.db)
            .await
            .map_err(storage)?
            .ok_or(StoreError::NotFound)?;
        let attempts = row.attempts.saturating_add(1);
        let mut active = row.into_active_model();
        active.attempts = Set(attempts);
        active.next_attempt_at = Set(next_attempt_at);
        active.last_error = Set(Some(error.to_owned()));
        active.claimed_at = Set(None);
        active.update(&self.db).await.map_err(storage)?;
        Ok(())
    }

    async fn park(&self, id: i64, error: &str) -> Result<(), StoreError> {
        let row = ocpi_outbox::Entity::find_by_id(id)
            .one(&self.db)
            .await
            .map_err(storage)?
            .ok_or(StoreError::NotFound)?;
        let attempts = row.attempts.saturating_add(1);
        let mut active = row.into_active_model();
        active.attempts = Set(attempts);
        active.state = Set(OutboxState::Parked.as_str().to_owned());
        active.last_error = Set(Some(error.to_owned()));
        active.claimed_at = Set(None);
        active.update(&self.db).await.map_err(storage)?;
        Ok(())
    }

    async fn list(
        &self,
        state: Option<OutboxState>,
        offset: u64,
        limit: u64,
    ) -> Result<(Vec<OutboxRow>, u64), StoreError> {
        let mut query = ocpi_outbox::Entity::find();
        if let Some(state) = state {
            query = query.filter(ocpi_outbox::Column::State.eq(state.as_str()));
        }
        let total = query.clone().count(&self.db).await.map_err(storage)?;
        let rows = query
            .order_by_desc(ocpi_outbox::Column::Id)
            .offset(offset)
            .limit(limit)
            .all(&self.db)
            .await
            .map_err(storage)?;
        Ok((rows.into_iter().map(to_row).collect(), total))
    }

    async fn redeliver(
        &self,
        id: i64,
        now: DateTime<Utc>,
    ) -> Result<Option<OutboxRow>, StoreError> {
        let Some(row) = ocpi_outbox::Entity::find_by_id(id)
            .one(&self.db)
            .await
            .map_err(storage)?
            .filter(|r| r.state == OutboxState::Parked.as_str())
        else {
            return Ok(None);
        };
        let mut active = row.into_active_model();
        active.state = Set(OutboxState::Pending.as_str().to_owned());
        active.attempts = Set(0);
        active.next_attempt_at = Set(now);
        active.claimed_at = Set(None);
        let row = active.update(&self.db).await.map_err(storage)?;
        self.wake_push();
        Ok(Some(to_row(row)))
    }

    fn wake(&self) -> Arc<tokio::sync::Notify> {
        self.push_wake.clone()
    }
}
