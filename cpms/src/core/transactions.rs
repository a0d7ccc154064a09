//! Transactions and meter samples.
//!
//! Chargers retransmit after a lost answer and replay after being offline, so every operation here
//! is idempotent: a repeated start finds its first copy (unique on station, EVSE and start time), a
//! repeated or unknown stop is accepted without a second effect.

use chrono::{DateTime, Utc};
use ocpp_gateway::port::{
    MeterReading, MeterReport, TokenVerdict, TransactionStart, TransactionStarted, TransactionStop,
};
use rust_decimal::Decimal;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter,
    QueryOrder, QuerySelect, TransactionTrait,
};
use serde::{Deserialize, Serialize};

use super::sessions::SessionChange;
use super::usage::pin_session_tariff;
use super::{Core, CoreError};
use crate::entities::{meter_sample, transaction};
use crate::events::DomainEvent;

/// Lifecycle of a transaction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum TransactionState {
    /// Charging or about to.
    Active,
    /// Ended.
    Stopped,
}

impl TransactionState {
    pub(super) fn as_str(self) -> &'static str {
        match self {
            TransactionState::Active => "Active",
            TransactionState::Stopped => "Stopped",
        }
    }
}

/// A transaction as the operator sees it, whichever OCPP version the station speaks. Energies are
/// decimal strings in Wh.
#[derive(Debug, Clone, Serialize)]
pub struct TransactionRecord {
    /// Transaction id (the 1.6 transactionId).
    pub id: i32,
    /// The station's own transaction id (OCPP 2.0.1 transactionId); null for 1.6.
    pub station_transaction_id: Option<String>,
    /// Station.
    pub station_id: String,
    /// EVSE.
    pub evse_id: i32,
    /// Connector within the EVSE.
    pub connector_id: i32,
    /// Token that started it.
    pub id_token: String,
    /// Verdict given on that token at start.
    pub authorization_status: String,
    /// Active or Stopped.
    pub state: TransactionState,
    /// Start at the station.
    pub started_at: DateTime<Utc>,
    /// Stop at the station.
    pub stopped_at: Option<DateTime<Utc>>,
    /// Register at start (Wh).
    pub meter_start_wh: String,
    /// Register at stop (Wh).
    pub meter_stop_wh: Option<String>,
    /// Latest register reading while running (Wh).
    pub last_meter_wh: Option<String>,
    /// Energy delivered so far or in total (Wh).
    pub energy_wh: String,
    /// Why it stopped.
    pub stop_reason: Option<String>,
    /// Token that stopped it, when sent.
    pub stop_id_token: Option<String>,
    /// Reservation it consumed.
    pub reservation_id: Option<i32>,
    /// The eMSP's reference from the real-time authorization of its roaming token (OCPI 2.2.1
    /// Tokens: AuthorizationInfo), when there was one.
    pub authorization_reference: Option<String>,
    /// Meter samples, when asked for one transaction.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub meter_samples: Option<Vec<MeterSampleRecord>>,
}

/// One stored sampled value.
#[derive(Debug, Clone, Serialize)]
pub struct MeterSampleRecord {
    /// EVSE.
    pub evse_id: i32,
    /// Sample time.
    pub timestamp: DateTime<Utc>,
    /// Measurand.
    pub measurand: String,
    /// Phase.
    pub phase: Option<String>,
    /// Unit.
    pub unit: Option<String>,
    /// Value as sent.
    pub value: String,
    /// Reading context.
    pub context: Option<String>,
    /// Location.
    pub location: Option<String>,
    /// Raw or SignedData.
    pub format: Option<String>,
}

/// Filters for listing transactions.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct TransactionFilter {
    /// Only this station.
    pub station_id: Option<String>,
    /// Only this state.
    pub state: Option<TransactionState>,
    /// Only this token.
    pub id_token: Option<String>,
    /// Started at or after.
    pub started_from: Option<DateTime<Utc>>,
    /// Started before.
    pub started_to: Option<DateTime<Utc>>,
}

pub(super) fn parse_wh(s: &str) -> Decimal {
    s.parse().unwrap_or_default()
}

fn energy(start: &str, end: Option<&str>) -> Decimal {
    end.map(|e| (parse_wh(e) - parse_wh(start)).max(Decimal::ZERO))
        .unwrap_or_default()
}

impl From<transaction::Model> for TransactionRecord {
    fn from(m: transaction::Model) -> Self {
        let latest = m.meter_stop_wh.as_deref().or(m.last_meter_wh.as_deref());
        let energy_wh = energy(&m.meter_start_wh, latest).normalize().to_string();
        TransactionRecord {
            state: if m.state == "Stopped" {
                TransactionState::Stopped
            } else {
                TransactionState::Active
            },
            id: m.id,
            station_transaction_id: m.station_transaction_id,
            station_id: m.station_id,
            evse_id: m.evse_id,
            connector_id: m.connector_id,
            id_token: m.id_token,
            authorization_status: m.authorization_status,
            started_at: m.started_at,
            stopped_at: m.stopped_at,
            meter_start_wh: m.meter_start_wh,
            meter_stop_wh: m.meter_stop_wh,
            last_meter_wh: m.last_meter_wh,
            energy_wh,
            stop_reason: m.stop_reason,
            stop_id_token: m.stop_id_token,
            reservation_id: m.reservation_id,
            authorization_reference: m.authorization_reference,
            meter_samples: None,
        }
    }
}

impl From<meter_sample::Model> for MeterSampleRecord {
    fn from(m: meter_sample::Model) -> Self {
        MeterSampleRecord {
            evse_id: m.evse_id,
            timestamp: m.timestamp,
            measurand: m.measurand,
            phase: m.phase,
            unit: m.unit,
            value: m.value,
            context: m.context,
            location: m.location,
            format: m.format,
        }
    }
}

/// The active import energy register of a reading, in Wh, if it has one. Per-phase values and
/// signed data are not the register total.
pub(super) fn register_wh(reading: &MeterReading) -> Option<Decimal> {
    reading
        .values
        .iter()
        .filter(|v| v.measurand == "Energy.Active.Import.Register" && v.phase.is_none())
        .filter(|v| v.format.as_deref() != Some("SignedData"))
        .find_map(|v| {
            let value: Decimal = v.value.trim().parse().ok()?;
            match v.unit.as_deref() {
                None | Some("Wh") => Some(value),
                Some("kWh") => Some(value * Decimal::from(1000)),
                Some(_) => None,
            }
        })
}

/// Rows for every sampled value of `readings`.
pub(super) fn sample_rows(
    station_id: &str,
    evse_id: i32,
    connector_id: i32,
    transaction_id: Option<i32>,
    readings: &[MeterReading],
) -> Vec<meter_sample::ActiveModel> {
    readings
        .iter()
        .flat_map(|reading| {
            reading
                .values
                .iter()
                .map(move |v| meter_sample::ActiveModel {
                    id: sea_orm::ActiveValue::NotSet,
                    station_id: Set(station_id.to_owned()),
                    evse_id: Set(evse_id),
                    connector_id: Set(connector_id),
                    transaction_id: Set(transaction_id),
                    timestamp: Set(reading.timestamp),
                    measurand: Set(v.measurand.clone()),
                    phase: Set(v.phase.clone()),
                    unit: Set(v.unit.clone()),
                    value: Set(v.value.clone()),
                    context: Set(v.context.clone()),
                    location: Set(v.location.clone()),
                    format: Set(v.format.clone()),
                })
        })
        .collect()
}

pub(super) async fn insert_samples<C: ConnectionTrait>(
    db: &C,
    rows: Vec<meter_sample::ActiveModel>,
) -> Result<(), CoreError> {
    // Bounded batches: SQLite limits bound parameters per statement.
    for chunk in rows.chunks(50) {
        meter_sample::Entity::insert_many(chunk.to_vec())
            .exec_without_returning(db)
            .await?;
    }
    Ok(())
}

impl Core {
    async fn find_start(
        &self,
        station_id: &str,
        evse_id: i32,
        started_at: DateTime<Utc>,
    ) -> Result<Option<transaction::Model>, CoreError> {
        Ok(transaction::Entity::find()
            .filter(transaction::Column::StationId.eq(station_id))
            .filter(transaction::Column::EvseId.eq(evse_id))
            .filter(transaction::Column::StartedAt.eq(started_at))
            .one(&self.db)
            .await?)
    }

    /// Stores a transaction start, or finds the one this start retransmits.
    pub(crate) async fn begin_transaction(
        &self,
        station_id: &str,
        start: TransactionStart,
    ) -> Result<TransactionStarted, CoreError> {
        let evse_id = start.evse.evse_id;
        if let Some(existing) = self
            .find_start(station_id, evse_id, start.timestamp)
            .await?
        {
            tracing::info!(station = %station_id, transaction_id = existing.id, "repeated StartTransaction answered with the same id");
            return Ok(TransactionStarted {
                transaction_id: i64::from(existing.id),
                verdict: self.verdict(&existing.id_token).await?,
            });
        }
        let (verdict, authorization_reference, origin): (TokenVerdict, _, _) =
            self.decide_with_origin(&start.id_token).await?;
        let now = self.now();
        let authorization_status = format!("{:?}", verdict.status);
        let row = transaction::ActiveModel {
            id: sea_orm::ActiveValue::NotSet,
            station_id: Set(station_id.to_owned()),
            evse_id: Set(evse_id),
            connector_id: Set(start.evse.connector_id),
            id_token: Set(start.id_token.clone()),
            authorization_status: Set(authorization_status.clone()),
            state: Set(TransactionState::Active.as_str().to_owned()),
            started_at: Set(start.timestamp),
            stopped_at: Set(None),
            meter_start_wh: Set(start.meter_start_wh.normalize().to_string()),
            meter_stop_wh: Set(None),
            last_meter_wh: Set(None),
            last_meter_at: Set(None),
            stop_reason: Set(None),
            stop_id_token: Set(None),
            reservation_id: Set(start.reservation_id),
            created_at: Set(now),
            updated_at: Set(now),
            station_transaction_id: Set(None),
            remote_start_id: Set(None),
            authorization_reference: Set(authorization_reference),
            ocpi_partner_id: Set(origin.map(|o| o.partner_id)),
            ocpi_token_id: Set(origin.map(|o| o.token_id)),
            ocpi_auth_method: Set(origin.map(|o| o.auth_method().to_owned())),
            session_tariff: Set(None),
        };
        // The Session push commits with the transaction (the outbox invariant). 1.6
        // StartTransaction means the station already started, so the Session is ACTIVE (or
        // INVALID for a refused token), never PENDING (Sessions: SessionStatus enum).
        let txn = self.db.begin().await?;
        let written = match row.insert(&txn).await {
            Ok(m) => {
                // A roaming session keeps the tariff it starts under (see `pin_session_tariff`).
                let m = match m.ocpi_partner_id {
                    Some(_) => pin_session_tariff(&txn, m).await?,
                    None => m,
                };
                let pushed = self
                    .enqueue_session(&txn, &m, SessionChange::Started)
                    .await?;
                txn.commit().await?;
                Ok((m, pushed))
            }
            Err(e) => {
                txn.rollback().await?;
                Err(e)
            }
        };
        let inserted = match written {
            Ok((m, pushed)) => {
                if pushed {
                    self.wake_push();
                }
                m
            }
            Err(e) => {
                // Two copies raced past the lookup: the unique index let one in; use it.
                match self
                    .find_start(station_id, evse_id, start.timestamp)
                    .await?
                {
                    Some(m) => m,
                    None => return Err(e.into()),
                }
            }
        };
        self.events.publish(
            station_id,
            DomainEvent::TransactionStarted {
                transaction_id: inserted.id,
                evse_id,
                connector_id: start.evse.connector_id,
                id_token: start.id_token,
                authorization_status,
                started_at: start.timestamp,
            },
        );
        Ok(TransactionStarted {
            transaction_id: i64::from(inserted.id),
            verdict,
        })
    }

    /// The station's transaction with this id, if it is the station's.
    async fn station_transaction<C: ConnectionTrait>(
        db: &C,
        station_id: &str,
        transaction_id: i64,
    ) -> Result<Option<transaction::Model>, CoreError> {
        let Ok(id) = i32::try_from(transaction_id) else {
            return Ok(None);
        };
        Ok(transaction::Entity::find_by_id(id)
            .filter(transaction::Column::StationId.eq(station_id))
            .one(db)
            .await?)
    }

    /// Stores every sampled value; a transaction's latest register reading moves its energy.
    pub(crate) async fn record_meter_values(
        &self,
        station_id: &str,
        report: MeterReport,
    ) -> Result<(), CoreError> {
        let txn = self.db.begin().await?;
        let tx = match report.transaction_id {
            Some(id) => {
                let found = Self::station_transaction(&txn, station_id, id).await?;
                if found.is_none() {
                    tracing::warn!(station = %station_id, transaction_id = id, "meter values for an unknown transaction stored without it");
                }
                found
            }
            None => None,
        };
        let rows = sample_rows(
            station_id,
            report.evse.evse_id,
            report.evse.connector_id,
            tx.as_ref().map(|t| t.id),
            &report.readings,
        );
        let samples = rows.len();
        insert_samples(&txn, rows).await?;
        let mut updated = None;
        let mut pushed = false;
        if let Some(tx) = tx.filter(|t| t.state == "Active") {
            let latest = report
                .readings
                .iter()
                .filter_map(|r| register_wh(r).map(|wh| (r.timestamp, wh)))
                .max_by_key(|(at, _)| *at);
            if let Some((at, wh)) = latest {
                if tx.last_meter_at.is_none_or(|prev| at >= prev) {
                    let energy_wh = (wh - parse_wh(&tx.meter_start_wh)).max(Decimal::ZERO);
                    let id = tx.id;
                    let mut row: transaction::ActiveModel = tx.into();
                    row.last_meter_wh = Set(Some(wh.normalize().to_string()));
                    row.last_meter_at = Set(Some(at));
                    row.updated_at = Set(self.now());
                    let tx = row.update(&txn).await?;
                    pushed = self
                        .enqueue_session(&txn, &tx, SessionChange::Charging)
                        .await?;
                    updated = Some((id, energy_wh));
                }
            }
        }
        txn.commit().await?;
        if pushed {
            self.wake_push();
        }
        self.events.publish(
            station_id,
            DomainEvent::MeterValues {
                evse_id: report.evse.evse_id,
                transaction_id: report.transaction_id.and_then(|id| i32::try_from(id).ok()),
                samples,
            },
        );
        if let Some((transaction_id, energy_wh)) = updated {
            self.events.publish(
                station_id,
                DomainEvent::TransactionUpdated {
                    transaction_id,
                    energy_wh,
                },
            );
        }
        Ok(())
    }

    /// Closes a transaction with its final register and the meter data sent with the stop. An
    /// unknown or already-stopped transaction is accepted without change (chargers replay stops
    /// after being offline); its meter data is still kept.
    pub(crate) async fn end_transaction(
        &self,
        station_id: &str,
        stop: TransactionStop,
    ) -> Result<Option<TokenVerdict>, CoreError> {
        let verdict = match &stop.id_token {
            Some(token) => Some(self.verdict(token).await?),
            None => None,
        };
        let txn = self.db.begin().await?;
        let found = Self::station_transaction(&txn, station_id, stop.transaction_id).await?;
        let Some(tx) = found.filter(|t| t.state == "Active") else {
            txn.commit().await?;
            tracing::warn!(station = %station_id, transaction_id = stop.transaction_id, "StopTransaction for an unknown or stopped transaction accepted");
            if !stop.readings.is_empty() {
                let known = Self::station_transaction(&self.db, station_id, stop.transaction_id)
                    .await?
                    .is_some();
                if !known {
                    let rows = sample_rows(station_id, 0, 0, None, &stop.readings);
                    insert_samples(&self.db, rows).await?;
                }
            }
            return Ok(verdict);
        };
        let id = tx.id;
        let (evse_id, connector_id) = (tx.evse_id, tx.connector_id);
        let energy_wh = (stop.meter_stop_wh - parse_wh(&tx.meter_start_wh)).max(Decimal::ZERO);
        let mut row: transaction::ActiveModel = tx.into();
        row.state = Set(TransactionState::Stopped.as_str().to_owned());
        row.stopped_at = Set(Some(stop.timestamp));
        row.meter_stop_wh = Set(Some(stop.meter_stop_wh.normalize().to_string()));
        row.stop_reason = Set(Some(stop.reason.clone()));
        row.stop_id_token = Set(stop.id_token.clone());
        row.updated_at = Set(self.now());
        let tx = row.update(&txn).await?;
        let rows = sample_rows(station_id, evse_id, connector_id, Some(id), &stop.readings);
        insert_samples(&txn, rows).await?;
        let pushed = self
            .enqueue_session(&txn, &tx, SessionChange::Stopped)
            .await?;
        // The CDR and its push commit with the stop (CDRs: one per completed session).
        let pushed = self.create_cdr(&txn, &tx).await? || pushed;
        txn.commit().await?;
        if pushed {
            self.wake_push();
        }
        self.events.publish(
            station_id,
            DomainEvent::TransactionEnded {
                transaction_id: id,
                energy_wh,
                stop_reason: stop.reason,
                stopped_at: stop.timestamp,
            },
        );
        Ok(verdict)
    }

    /// Transactions matching `filter`, oldest first, with the total count.
    pub async fn transactions(
        &self,
        filter: &TransactionFilter,
        offset: u64,
        limit: u64,
    ) -> Result<(Vec<TransactionRecord>, u64), CoreError> {
        use sea_orm::PaginatorTrait;
        let mut query = transaction::Entity::find();
        if let Some(s) = &filter.station_id {
            query = query.filter(transaction::Column::StationId.eq(s.as_str()));
        }
        if let Some(state) = filter.state {
            query = query.filter(transaction::Column::State.eq(state.as_str()));
        }
        if let Some(t) = &filter.id_token {
            query = query.filter(transaction::Column::IdToken.eq(t.as_str()));
        }
        if let Some(from) = filter.started_from {
            query = query.filter(transaction::Column::StartedAt.gte(from));
        }
        if let Some(to) = filter.started_to {
            query = query.filter(transaction::Column::StartedAt.lt(to));
        }
        let total = query.clone().count(&self.db).await?;
        let rows = query
            .order_by_asc(transaction::Column::Id)
            .offset(offset)
            .limit(limit)
            .all(&self.db)
            .await?;
        Ok((rows.into_iter().map(Into::into).collect(), total))
    }

    /// One transaction with its meter samples in time order.
    pub async fn transaction(&self, id: i32) -> Result<TransactionRecord, CoreError> {
        let found = transaction::Entity::find_by_id(id)
            .one(&self.db)
            .await?
            .ok_or_else(|| CoreError::NotFound(format!("transaction {id}")))?;
        let samples = meter_sample::Entity::find()
            .filter(meter_sample::Column::TransactionId.eq(id))
            .order_by_asc(meter_sample::Column::Timestamp)
            .order_by_asc(meter_sample::Column::Id)
            .all(&self.db)
            .await?;
        let mut record = TransactionRecord::from(found);
        record.meter_samples = Some(samples.into_iter().map(Into::into).collect());
        Ok(record)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ocpp_gateway::port::SampledValue;

    fn sample(
        measurand: &str,
        value: &str,
        unit: Option<&str>,
        phase: Option<&str>,
    ) -> SampledValue {
        SampledValue {
            value: value.into(),
            measurand: measurand.into(),
            phase: phase.map(Into::into),
            unit: unit.map(Into::into),
            context: None,
            location: None,
            format: None,
        }
    }

    #[test]
    fn the_register_is_read_in_wh_or_kwh() {
        let reading = |values| MeterReading {
            timestamp: Utc::now(),
            values,
        };
        let r = reading(vec![
            sample("Power.Active.Import", "7000", Some("W"), None),
            sample("Energy.Active.Import.Register", "12.5", Some("kWh"), None),
        ]);
        assert_eq!(register_wh(&r), Some(Decimal::from(12500)));
        let r = reading(vec![sample(
            "Energy.Active.Import.Register",
            "1500",
            None,
            None,
        )]);
        assert_eq!(register_wh(&r), Some(Decimal::from(1500)));
        let per_phase = reading(vec![sample(
            "Energy.Active.Import.Register",
            "500",
            Some("Wh"),
            Some("L1"),
        )]);
        assert_eq!(register_wh(&per_phase), None);
    }

    #[test]
    fn energy_never_goes_negative() {
        assert_eq!(energy("1000", Some("4000")), Decimal::from(3000));
        assert_eq!(energy("1000", Some("900")), Decimal::ZERO);
        assert_eq!(energy("1000", None), Decimal::ZERO);
    }
}
