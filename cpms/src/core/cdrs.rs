//! OCPI CDRs, the core's side (OCPI 2.2.1 CDRs module, CPO Sender interface and the push to the
//! eMSP's Receiver interface): exactly one CDR per completed roaming session, made and frozen in
//! the database transaction of the stop together with its push, credit CDRs the operator asks
//! for, the sessions that could not become a CDR with the reason, and the bridge's
//! [`CdrSource`].
//!
//! A CDR is stored as made and never changed (CDRs: Flow and Lifecycle); the push row names it
//! by its id, so a retry after a lost answer POSTs the same id again and the eMSP, which keys
//! CDRs on our party and that id, keeps one.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use ocpi_bridge::port::cdrs::{
    Cdr, CdrLocation, CdrSource, CdrTariff, SignedData, SignedValue, StoredCdr,
};
use ocpi_bridge::port::outbox::{PushOperation, CDRS};
use ocpi_bridge::port::{PartnerId, StoreError};
use ocpi_bridge::pricing::{price_session, CdrDimension, CdrDimensionType, ChargingPeriod};
use rust_decimal::Decimal;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, PaginatorTrait,
    QueryFilter, QueryOrder, QuerySelect, TransactionTrait,
};
use serde::Serialize;

use super::sessions::{auth_method, cdr_token, pending_push};
use super::usage::{session_place, session_tariff, session_usage, transaction_samples, UsageGap};
use super::{Core, CoreError};
use crate::entities::{meter_sample, ocpi_cdr, ocpi_token, ocpi_unbillable_session, transaction};

/// A CDR as the operator sees it.
#[derive(Debug, Clone, Serialize)]
pub struct CdrRecord {
    /// Our CDR id.
    pub id: String,
    /// The eMSP it belongs to.
    pub partner_id: i64,
    /// The session's transaction; `None` for a credit CDR.
    pub transaction_id: Option<i32>,
    /// For a credit CDR, the CDR it credits.
    pub credit_reference_id: Option<String>,
    /// When it was made.
    pub created_at: DateTime<Utc>,
    /// When the eMSP accepted it, if it did.
    pub delivered_at: Option<DateTime<Utc>>,
    /// The eMSP's URL of it.
    pub location_url: Option<String>,
    /// The CDR as made (without our party and currency, which the bridge adds).
    pub cdr: serde_json::Value,
}

/// A roaming session that could not become a CDR.
#[derive(Debug, Clone, Serialize)]
pub struct UnbillableRecord {
    /// The transaction.
    pub transaction_id: i32,
    /// The eMSP owning its token.
    pub partner_id: i64,
    /// `no_location`, `no_token`, `no_meter_data`, `meter_went_backwards`, `no_tariff`,
    /// `pricing_failed`, `unreadable_data` or `not_stopped`.
    pub reason: String,
    /// The details.
    pub detail: String,
    /// When it was found.
    pub created_at: DateTime<Utc>,
}

impl From<ocpi_unbillable_session::Model> for UnbillableRecord {
    fn from(m: ocpi_unbillable_session::Model) -> Self {
        UnbillableRecord {
            transaction_id: m.transaction_id,
            partner_id: m.partner_id,
            reason: m.reason,
            detail: m.detail,
            created_at: m.created_at,
        }
    }
}

impl From<ocpi_cdr::Model> for CdrRecord {
    fn from(m: ocpi_cdr::Model) -> Self {
        CdrRecord {
            cdr: serde_json::from_str(&m.body).unwrap_or(serde_json::Value::Null),
            id: m.cdr_id,
            partner_id: m.partner_id,
            transaction_id: m.transaction_id,
            credit_reference_id: m.credit_reference_id,
            created_at: m.created_at,
            delivered_at: m.delivered_at,
            location_url: m.location_url,
        }
    }
}

/// Why a session is not billable: a stable code and the details.
struct Unbillable(&'static str, String);

fn storage(e: impl std::fmt::Display) -> StoreError {
    StoreError::Storage(e.to_string())
}

fn stored_cdr(row: &ocpi_cdr::Model) -> Result<StoredCdr, StoreError> {
    let cdr: Cdr = serde_json::from_str(&row.body)
        .map_err(|e| storage(format!("stored CDR {}: {e}", row.cdr_id)))?;
    Ok(StoredCdr {
        owner: PartnerId(row.partner_id),
        cdr,
    })
}

/// The station's signed meter values of a session (1.6 SampledValue format `SignedData`),
/// passed through as OCPI SignedData: the first is the start, the last the end.
fn signed_data(samples: &[meter_sample::Model]) -> Option<SignedData> {
    let signed: Vec<&meter_sample::Model> = samples
        .iter()
        .filter(|s| s.format.as_deref() == Some("SignedData"))
        .collect();
    if signed.is_empty() {
        return None;
    }
    let encoding = if signed.iter().all(|s| s.value.starts_with("OCMF|")) {
        "OCMF"
    } else {
        "UNKNOWN"
    };
    let plain = |s: &meter_sample::Model| {
        samples
            .iter()
            .find(|p| {
                p.timestamp == s.timestamp
                    && p.measurand == s.measurand
                    && p.phase == s.phase
                    && p.format.as_deref() != Some("SignedData")
            })
            .map(|p| p.value.clone())
            .unwrap_or_default()
    };
    let last = signed.len() - 1;
    let signed_values = signed
        .iter()
        .enumerate()
        .map(|(i, s)| SignedValue {
            nature: match (s.context.as_deref(), i) {
                (Some("Transaction.Begin"), _) => "Start",
                (Some("Transaction.End"), _) => "End",
                (_, 0) if last > 0 => "Start",
                (_, i) if i == last && last > 0 => "End",
                _ => "Intermediate",
            }
            .to_owned(),
            plain_data: plain(s),
            signed_data: s.value.clone(),
        })
        .collect();
    Some(SignedData {
        encoding_method: encoding.to_owned(),
        signed_values,
    })
}

impl Core {
    /// Writes, on `conn`, the POST of CDR `cdr_id` to its eMSP, when the eMSP receives CDRs
    /// (otherwise it pulls them with GET). Returns whether a row was written.
    async fn enqueue_cdr<C: ConnectionTrait>(
        &self,
        conn: &C,
        partner_id: i64,
        cdr_id: &str,
    ) -> Result<bool, CoreError> {
        if !Self::partner_receives(conn, partner_id, CDRS).await? {
            return Ok(false);
        }
        let now = self.now();
        pending_push(
            partner_id,
            CDRS,
            cdr_id.to_owned(),
            PushOperation::Post,
            now,
            now,
        )
        .insert(conn)
        .await?;
        Ok(true)
    }

    /// Makes, on `conn` (the database transaction of the stop), the CDR of the stopped roaming
    /// transaction `tx` and its push to the eMSP owning the token; or, when it cannot be made,
    /// records why. Once per transaction: a second call changes nothing. Works for any OCPP
    /// version. Returns whether a push row was written, so the caller wakes the worker after
    /// its commit.
    pub(crate) async fn create_cdr<C: ConnectionTrait>(
        &self,
        conn: &C,
        tx: &transaction::Model,
    ) -> Result<bool, CoreError> {
        let Some(partner_id) = tx.ocpi_partner_id else {
            return Ok(false);
        };
        // A refused token gives an INVALID session, which never charged: nothing to bill.
        if tx.state != "Stopped" || tx.authorization_status != "Accepted" {
            return Ok(false);
        }
        let existing = ocpi_cdr::Entity::find()
            .filter(ocpi_cdr::Column::TransactionId.eq(tx.id))
            .count(conn)
            .await?;
        if existing > 0 {
            return Ok(false);
        }
        let made = match self.make_cdr(conn, tx).await {
            // Unreadable stored data must not refuse the stop: the session is listed instead.
            Err(CoreError::Invalid(detail)) => Err(Unbillable("unreadable_data", detail)),
            other => other?,
        };
        let cdr = match made {
            Ok(cdr) => cdr,
            Err(Unbillable(reason, detail)) => {
                tracing::warn!(transaction_id = tx.id, reason, %detail, "roaming session without a CDR");
                self.record_unbillable(conn, tx.id, partner_id, reason, detail)
                    .await?;
                return Ok(false);
            }
        };
        let body = serde_json::to_string(&cdr).map_err(|e| CoreError::Invalid(e.to_string()))?;
        ocpi_cdr::ActiveModel {
            cdr_id: Set(cdr.id.clone()),
            partner_id: Set(partner_id),
            transaction_id: Set(Some(tx.id)),
            credit_reference_id: Set(None),
            body: Set(body),
            created_at: Set(cdr.last_updated),
            location_url: Set(None),
            delivered_at: Set(None),
            ..Default::default()
        }
        .insert(conn)
        .await?;
        // A session once listed as never stopped is billable after all.
        ocpi_unbillable_session::Entity::delete_many()
            .filter(ocpi_unbillable_session::Column::TransactionId.eq(tx.id))
            .exec(conn)
            .await?;
        self.enqueue_cdr(conn, partner_id, &cdr.id).await
    }

    async fn record_unbillable<C: ConnectionTrait>(
        &self,
        conn: &C,
        transaction_id: i32,
        partner_id: i64,
        reason: &str,
        detail: String,
    ) -> Result<(), CoreError> {
        let known = ocpi_unbillable_session::Entity::find()
            .filter(ocpi_unbillable_session::Column::TransactionId.eq(transaction_id))
            .one(conn)
            .await?;
        match known {
            Some(row) => {
                let mut row: ocpi_unbillable_session::ActiveModel = row.into();
                row.reason = Set(reason.to_owned());
                row.detail = Set(detail);
                row.update(conn).await?;
            }
            None => {
                ocpi_unbillable_session::ActiveModel {
                    transaction_id: Set(transaction_id),
                    partner_id: Set(partner_id),
                    reason: Set(reason.to_owned()),
                    detail: Set(detail),
                    created_at: Set(self.now()),
                    ..Default::default()
                }
                .insert(conn)
                .await?;
            }
        }
        Ok(())
    }

    /// The CDR of `tx`, or why there can be none.
    async fn make_cdr<C: ConnectionTrait>(
        &self,
        conn: &C,
        tx: &transaction::Model,
    ) -> Result<Result<Cdr, Unbillable>, CoreError> {
        let Some(token_id) = tx.ocpi_token_id else {
            return Ok(Err(Unbillable(
                "no_token",
                "no roaming token recorded".into(),
            )));
        };
        let Some(token) = ocpi_token::Entity::find_by_id(token_id).one(conn).await? else {
            return Ok(Err(Unbillable(
                "no_token",
                format!("roaming token {token_id} is gone"),
            )));
        };
        let Some(place) = session_place(conn, tx).await? else {
            return Ok(Err(Unbillable(
                "no_location",
                format!(
                    "station {} EVSE {} is on no Location",
                    tx.station_id, tx.evse_id
                ),
            )));
        };
        let Some(end) = tx.stopped_at else {
            return Ok(Err(Unbillable("not_stopped", "no stop time".into())));
        };
        let usage = match session_usage(conn, tx, end).await? {
            Ok(u) => u,
            Err(UsageGap::NoMeterData) => {
                return Ok(Err(Unbillable(
                    "no_meter_data",
                    "no energy register at the stop".into(),
                )))
            }
            Err(UsageGap::MeterWentBackwards { start, stop }) => {
                return Ok(Err(Unbillable(
                    "meter_went_backwards",
                    format!("register {stop} Wh at stop is below {start} Wh at start"),
                )))
            }
        };
        let tariff = match session_tariff(conn, tx, &place.connector).await? {
            Ok(t) => t,
            Err(detail) => return Ok(Err(Unbillable("no_tariff", detail))),
        };
        let priced = match price_session(tariff.as_ref(), &place.site.time_zone, &usage) {
            Ok(p) => p,
            Err(e) => return Ok(Err(Unbillable("pricing_failed", e.to_string()))),
        };
        let samples = transaction_samples(conn, tx.id).await?;
        // CDRs: CDR object: total_energy is what the meter registered, start to stop.
        let total_energy = (usage.meter_stop_wh - usage.meter_start_wh) / Decimal::from(1000);
        let mut charging_periods = priced.charging_periods;
        if charging_periods.is_empty() {
            // CDRs: CDR object: at least one charging period.
            charging_periods.push(ChargingPeriod {
                start_date_time: tx.started_at,
                dimensions: vec![
                    CdrDimension {
                        dimension: CdrDimensionType::Energy,
                        volume: total_energy,
                    },
                    CdrDimension {
                        dimension: CdrDimensionType::Time,
                        volume: priced.total_time,
                    },
                ],
                tariff_id: tariff.as_ref().map(|t| t.id.clone()),
            });
        }
        let connector = &place.connector;
        Ok(Ok(Cdr {
            id: uuid::Uuid::new_v4().to_string(),
            start_date_time: tx.started_at,
            end_date_time: end,
            session_id: Some(tx.id.to_string()),
            cdr_token: cdr_token(token),
            auth_method: auth_method(tx),
            authorization_reference: tx.authorization_reference.clone(),
            cdr_location: CdrLocation {
                id: place.location_id,
                name: place.site.name,
                address: place.site.address,
                city: place.site.city,
                postal_code: place.site.postal_code,
                country: place.site.country,
                coordinates: place.site.coordinates,
                evse_id: place
                    .evse
                    .evse_id_emi3
                    .clone()
                    .unwrap_or_else(|| place.evse_uid.clone()),
                evse_uid: place.evse_uid,
                connector_id: connector.id.clone(),
                connector_standard: connector.standard.clone(),
                connector_format: connector.format.clone(),
                connector_power_type: connector.power_type.clone(),
            },
            currency: tariff.as_ref().map(|t| t.terms.currency.clone()),
            tariffs: tariff
                .map(|t| CdrTariff {
                    id: t.id,
                    terms: t.terms,
                    last_updated: t.last_updated,
                })
                .into_iter()
                .collect(),
            charging_periods,
            signed_data: signed_data(&samples),
            total_cost: priced.total_cost,
            total_fixed_cost: priced.total_fixed_cost,
            total_energy,
            total_energy_cost: priced.total_energy_cost,
            total_time: priced.total_time,
            total_time_cost: priced.total_time_cost,
            total_parking_time: Some(priced.total_parking_time),
            total_parking_cost: priced.total_parking_cost,
            remark: None,
            credit: None,
            credit_reference_id: None,
            last_updated: self.now(),
        }))
    }

    /// Every CDR, newest first, and how many there are.
    pub async fn list_cdrs(
        &self,
        offset: u64,
        limit: u64,
    ) -> Result<(Vec<CdrRecord>, u64), CoreError> {
        let total = ocpi_cdr::Entity::find().count(&self.db).await?;
        let rows = ocpi_cdr::Entity::find()
            .order_by_desc(ocpi_cdr::Column::Id)
            .offset(offset)
            .limit(limit)
            .all(&self.db)
            .await?;
        Ok((rows.into_iter().map(Into::into).collect(), total))
    }

    /// Credits CDR `id` (CDRs: Credit CDRs): a credit CDR pushed to the same eMSP. Not found:
    /// no such CDR; conflict: it is a credit itself or was credited already.
    pub async fn credit_cdr(&self, id: &str) -> Result<CdrRecord, CoreError> {
        let original = ocpi_cdr::Entity::find()
            .filter(ocpi_cdr::Column::CdrId.eq(id))
            .one(&self.db)
            .await?
            .ok_or_else(|| CoreError::NotFound(format!("CDR {id}")))?;
        if original.credit_reference_id.is_some() {
            return Err(CoreError::Conflict(format!(
                "CDR {id} is a credit CDR and cannot be credited"
            )));
        }
        let credited = ocpi_cdr::Entity::find()
            .filter(ocpi_cdr::Column::CreditReferenceId.eq(id))
            .count(&self.db)
            .await?;
        if credited > 0 {
            return Err(CoreError::Conflict(format!(
                "CDR {id} was credited already"
            )));
        }
        let cdr = stored_cdr(&original)
            .map_err(|e| CoreError::Invalid(e.to_string()))?
            .cdr
            .credit(self.now());
        let body = serde_json::to_string(&cdr).map_err(|e| CoreError::Invalid(e.to_string()))?;
        let txn = self.db.begin().await?;
        let inserted = ocpi_cdr::ActiveModel {
            cdr_id: Set(cdr.id.clone()),
            partner_id: Set(original.partner_id),
            transaction_id: Set(None),
            credit_reference_id: Set(Some(original.cdr_id.clone())),
            body: Set(body),
            created_at: Set(cdr.last_updated),
            location_url: Set(None),
            delivered_at: Set(None),
            ..Default::default()
        }
        .insert(&txn)
        .await;
        let row = match inserted {
            Ok(row) => row,
            Err(e) => {
                txn.rollback().await?;
                // Two credits raced past the check: the unique index let one in.
                let raced = ocpi_cdr::Entity::find()
                    .filter(ocpi_cdr::Column::CreditReferenceId.eq(id))
                    .count(&self.db)
                    .await?;
                return Err(if raced > 0 {
                    CoreError::Conflict(format!("CDR {id} was credited already"))
                } else {
                    e.into()
                });
            }
        };
        let pushed = self.enqueue_cdr(&txn, original.partner_id, &cdr.id).await?;
        txn.commit().await?;
        if pushed {
            self.wake_push();
        }
        Ok(row.into())
    }

    /// Roaming sessions that could not become a CDR, oldest first. Sessions still running
    /// `stale_after` after their start (the station never stopped them) are recorded first.
    pub async fn unbillable_sessions(
        &self,
        stale_after: chrono::Duration,
    ) -> Result<Vec<UnbillableRecord>, CoreError> {
        let cutoff = self.now() - stale_after;
        let stale = transaction::Entity::find()
            .filter(transaction::Column::OcpiPartnerId.is_not_null())
            .filter(transaction::Column::State.eq("Active"))
            .filter(transaction::Column::AuthorizationStatus.eq("Accepted"))
            .filter(transaction::Column::StartedAt.lt(cutoff))
            .all(&self.db)
            .await?;
        for tx in stale {
            let known = ocpi_unbillable_session::Entity::find()
                .filter(ocpi_unbillable_session::Column::TransactionId.eq(tx.id))
                .count(&self.db)
                .await?;
            if known == 0 {
                if let Some(partner_id) = tx.ocpi_partner_id {
                    let detail = format!("running since {} and never stopped", tx.started_at);
                    self.record_unbillable(&self.db, tx.id, partner_id, "not_stopped", detail)
                        .await?;
                }
            }
        }
        Ok(ocpi_unbillable_session::Entity::find()
            .order_by_asc(ocpi_unbillable_session::Column::Id)
            .all(&self.db)
            .await?
            .into_iter()
            .map(Into::into)
            .collect())
    }
}

#[async_trait]
impl CdrSource for Core {
    async fn cdr(&self, id: &str) -> Result<Option<StoredCdr>, StoreError> {
        ocpi_cdr::Entity::find()
            .filter(ocpi_cdr::Column::CdrId.eq(id))
            .one(&self.db)
            .await
            .map_err(storage)?
            .map(|row| stored_cdr(&row))
            .transpose()
    }

    async fn cdrs(&self, owner: PartnerId) -> Result<Vec<StoredCdr>, StoreError> {
        ocpi_cdr::Entity::find()
            .filter(ocpi_cdr::Column::PartnerId.eq(owner.0))
            .order_by_asc(ocpi_cdr::Column::Id)
            .all(&self.db)
            .await
            .map_err(storage)?
            .iter()
            .map(stored_cdr)
            .collect()
    }

    async fn delivered(&self, id: &str, location: Option<&str>) -> Result<(), StoreError> {
        ocpi_cdr::Entity::update_many()
            .col_expr(
                ocpi_cdr::Column::LocationUrl,
                location.map(str::to_owned).into(),
            )
            .col_expr(ocpi_cdr::Column::DeliveredAt, Some(self.now()).into())
            .filter(ocpi_cdr::Column::CdrId.eq(id))
            .exec(&self.db)
            .await
            .map_err(storage)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(at: i64, value: &str, format: Option<&str>) -> meter_sample::Model {
        meter_sample::Model {
            format: format.map(Into::into),
            ..crate::core::usage::tests::sample(
                at,
                "Energy.Active.Import.Register",
                None,
                "Wh",
                value,
            )
        }
    }

    #[test]
    fn signed_readings_pass_through_from_start_to_end() {
        assert_eq!(signed_data(&[sample(1, "10", None)]), None);
        let signed = signed_data(&[
            sample(1, "10", None),
            sample(1, "OCMF|a|b", Some("SignedData")),
            sample(2, "OCMF|c|d", Some("SignedData")),
            sample(3, "OCMF|e|f", Some("SignedData")),
        ])
        .unwrap();
        assert_eq!(signed.encoding_method, "OCMF");
        let natures: Vec<&str> = signed
            .signed_values
            .iter()
            .map(|v| v.nature.as_str())
            .collect();
        assert_eq!(natures, ["Start", "Intermediate", "End"]);
        assert_eq!(signed.signed_values[0].plain_data, "10");
        assert_eq!(signed.signed_values[2].signed_data, "OCMF|e|f");
        assert_eq!(signed.signed_values[1].plain_data, "");
    }
}
