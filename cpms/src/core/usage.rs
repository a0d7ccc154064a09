//! What a transaction used and where, for pricing it (OCPI 2.2.1 CDRs and Sessions: costs): its
//! meter readings between start and stop from the stored samples and registers, the place it
//! happened (Location, EVSE, connector, the Location's time zone) and the tariff of that
//! connector, pinned when the Session starts. Shared by the CDR (`cdrs.rs`) and the Session's
//! running cost.

use chrono::{DateTime, Utc};
use ocpi_bridge::port::locations::{ConnectorSpec, EvseSpec, Site};
use ocpi_bridge::port::tariffs::{Tariff, TariffTerms};
use ocpi_bridge::pricing::{MeterPoint, SessionUsage};
use rust_decimal::Decimal;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, Set,
};
use serde::{Deserialize, Serialize};

use super::transactions::parse_wh;
use super::CoreError;
use crate::entities::{location, location_evse, meter_sample, tariff, transaction};

/// Why a transaction's usage cannot be priced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum UsageGap {
    /// No register at the stop (or, while running, no reading at all).
    NoMeterData,
    /// The register at stop is below the one at start.
    MeterWentBackwards {
        /// Register at start, Wh.
        start: Decimal,
        /// Register at stop, Wh.
        stop: Decimal,
    },
}

/// Where a transaction happened, as OCPI describes it.
#[derive(Debug, Clone)]
pub(crate) struct SessionPlace {
    /// The Location id.
    pub location_id: String,
    /// The Location's site data (address, coordinates, time zone).
    pub site: Site,
    /// The OCPI EVSE uid.
    pub evse_uid: String,
    /// The EVSE as the operator describes it.
    pub evse: EvseSpec,
    /// The connector used (the operator's, or the default description).
    pub connector: ConnectorSpec,
}

const REGISTER: &str = "Energy.Active.Import.Register";

fn scaled(value: &str, unit: Option<&str>, base: &str) -> Option<Decimal> {
    let v: Decimal = value.trim().parse().ok()?;
    match unit {
        None => Some(v),
        Some(u) if u == base => Some(v),
        Some(u) if u.strip_prefix('k') == Some(base) => Some(v * Decimal::from(1000)),
        Some(_) => None,
    }
}

/// The readings of `samples` (one transaction's, in time order), one point per timestamp:
/// the register (no phase, not signed data), active power import and current import, where
/// sent. Currents are the sum over the phases, as the tariff restrictions `min_current` and
/// `max_current` are (Tariffs: TariffRestrictions class); the neutral is not a phase.
pub(crate) fn meter_points(samples: &[meter_sample::Model]) -> Vec<MeterPoint> {
    let mut points: Vec<MeterPoint> = Vec::new();
    for s in samples {
        if s.format.as_deref() == Some("SignedData") {
            continue;
        }
        if points.last().is_none_or(|p| p.at != s.timestamp) {
            points.push(MeterPoint {
                at: s.timestamp,
                energy_wh: None,
                power_w: None,
                current_a: None,
            });
        }
        let Some(point) = points.last_mut() else {
            continue;
        };
        match s.measurand.as_str() {
            REGISTER if s.phase.is_none() => {
                point.energy_wh = scaled(&s.value, s.unit.as_deref(), "Wh");
            }
            "Power.Active.Import" => {
                if let Some(w) = scaled(&s.value, s.unit.as_deref(), "W") {
                    // Per-phase powers add up; a total replaces them.
                    point.power_w = Some(match (s.phase.is_some(), point.power_w) {
                        (true, Some(prev)) => prev + w,
                        _ => w,
                    });
                }
            }
            "Current.Import" if s.phase.as_deref() != Some("N") => {
                if let Some(a) = scaled(&s.value, s.unit.as_deref(), "A") {
                    // Per-phase currents add up; a total replaces them.
                    point.current_a = Some(match (s.phase.is_some(), point.current_a) {
                        (true, Some(prev)) => prev + a,
                        _ => a,
                    });
                }
            }
            _ => {}
        }
    }
    points.retain(|p| p.energy_wh.is_some() || p.power_w.is_some() || p.current_a.is_some());
    points
}

/// The usage of `tx` until its stop, or until `now` while it runs (then its latest register
/// stands for the stop register).
pub(crate) async fn session_usage<C: ConnectionTrait>(
    conn: &C,
    tx: &transaction::Model,
    now: DateTime<Utc>,
) -> Result<Result<SessionUsage, UsageGap>, CoreError> {
    let end = tx.stopped_at.unwrap_or(now).max(tx.started_at);
    let stop = match (&tx.meter_stop_wh, tx.stopped_at) {
        (Some(stop), _) => stop,
        (None, None) => match &tx.last_meter_wh {
            Some(latest) => latest,
            None => &tx.meter_start_wh,
        },
        (None, Some(_)) => return Ok(Err(UsageGap::NoMeterData)),
    };
    let (meter_start_wh, meter_stop_wh) = (parse_wh(&tx.meter_start_wh), parse_wh(stop));
    if meter_stop_wh < meter_start_wh {
        return Ok(Err(UsageGap::MeterWentBackwards {
            start: meter_start_wh,
            stop: meter_stop_wh,
        }));
    }
    let samples = transaction_samples(conn, tx.id).await?;
    let points = meter_points(&samples)
        .into_iter()
        .filter(|p| p.at >= tx.started_at && p.at <= end)
        .collect();
    Ok(Ok(SessionUsage {
        start: tx.started_at,
        end,
        meter_start_wh,
        meter_stop_wh,
        points,
    }))
}

/// Where `tx` happened: `None` when its EVSE is on no Location (or the Location is gone).
pub(crate) async fn session_place<C: ConnectionTrait>(
    conn: &C,
    tx: &transaction::Model,
) -> Result<Option<SessionPlace>, CoreError> {
    let Some(evse) = location_evse::Entity::find()
        .filter(location_evse::Column::StationId.eq(tx.station_id.as_str()))
        .filter(location_evse::Column::EvseId.eq(tx.evse_id))
        .order_by_asc(location_evse::Column::LocationId)
        .one(conn)
        .await?
    else {
        return Ok(None);
    };
    let Some(site_row) = location::Entity::find_by_id(evse.location_id.clone())
        .one(conn)
        .await?
    else {
        return Ok(None);
    };
    let site: Site = serde_json::from_str(&site_row.site)
        .map_err(|e| CoreError::Invalid(format!("stored location {}: {e}", site_row.id)))?;
    let spec: EvseSpec = serde_json::from_str(&evse.details)
        .map_err(|e| CoreError::Invalid(format!("stored EVSE {}: {e}", evse.uid)))?;
    // The operator's connector ids are the station's connector numbers (Locations: Connector
    // object); an EVSE described with other ids shows its first.
    let wanted = tx.connector_id.to_string();
    let connector = spec
        .connectors
        .iter()
        .find(|c| c.id == wanted)
        .or(spec.connectors.first())
        .cloned()
        .unwrap_or_else(|| ConnectorSpec::default_for(tx.connector_id));
    Ok(Some(SessionPlace {
        location_id: evse.location_id,
        site,
        evse_uid: evse.uid,
        evse: spec,
        connector,
    }))
}

/// The tariff a roaming session is priced by: the one pinned on `tx` when its Session started
/// (`pin_session_tariff`), else (a row from before pinning) the connector's tariff looked up
/// now. `Ok(None)` when free of charge; `Err` with the ids when the connector lists tariffs but
/// none applies.
pub(crate) async fn session_tariff<C: ConnectionTrait>(
    conn: &C,
    tx: &transaction::Model,
    connector: &ConnectorSpec,
) -> Result<Result<Option<Tariff>, String>, CoreError> {
    if let Some(pinned) = &tx.session_tariff {
        let pinned: PinnedTariff = serde_json::from_str(pinned).map_err(|e| {
            CoreError::Invalid(format!("transaction {}: pinned tariff: {e}", tx.id))
        })?;
        return Ok(Ok(pinned.tariff.map(|t| Tariff {
            id: t.id,
            terms: t.terms,
            last_updated: t.last_updated,
        })));
    }
    connector_tariff(conn, connector, tx.started_at).await
}

/// Pins on `tx` the tariff its Session starts under, as `session_tariff` would choose it now,
/// and returns the updated row. Call it in the database transaction that starts the Session.
///
/// Why: a session is priced by the tariff relevant at its start (OCPI 2.2.1 CDRs: CDR object,
/// `tariffs`), the price the driver was shown; without the pin, an operator editing the tariff
/// or the connector's `tariff_ids` mid-session would re-price the running Session and its CDR.
/// Nothing is pinned when the EVSE is on no Location or none of the connector's tariffs applies:
/// pricing then looks the tariff up at its own time and reports what is missing.
pub(crate) async fn pin_session_tariff<C: ConnectionTrait>(
    conn: &C,
    tx: transaction::Model,
) -> Result<transaction::Model, CoreError> {
    if tx.session_tariff.is_some() {
        return Ok(tx);
    }
    let Some(place) = session_place(conn, &tx).await? else {
        return Ok(tx);
    };
    let Ok(tariff) = connector_tariff(conn, &place.connector, tx.started_at).await? else {
        return Ok(tx);
    };
    let pinned = PinnedTariff {
        tariff: tariff.map(|t| PinnedTerms {
            id: t.id,
            terms: t.terms,
            last_updated: t.last_updated,
        }),
    };
    let json = serde_json::to_string(&pinned)
        .map_err(|e| CoreError::Invalid(format!("transaction {}: pinned tariff: {e}", tx.id)))?;
    let mut row: transaction::ActiveModel = tx.into();
    row.session_tariff = Set(Some(json));
    Ok(row.update(conn).await?)
}

/// The `transaction.session_tariff` JSON: `{"tariff": null}` pins "free of charge", which SQL
/// NULL (nothing pinned) could not say.
#[derive(Serialize, Deserialize)]
struct PinnedTariff {
    tariff: Option<PinnedTerms>,
}

/// A pinned tariff as it was at the start (`Tariff` has no serde form of its own).
#[derive(Serialize, Deserialize)]
struct PinnedTerms {
    id: String,
    terms: TariffTerms,
    last_updated: DateTime<Utc>,
}

/// The tariff of the connector for a session starting `at`: the first of its `tariff_ids`
/// that exists and is valid then (Tariffs: Tariff object, start/end_date_time). `Ok(None)`
/// when the connector lists none (free of charge); `Err` with the ids when it lists some but
/// none applies.
async fn connector_tariff<C: ConnectionTrait>(
    conn: &C,
    connector: &ConnectorSpec,
    at: DateTime<Utc>,
) -> Result<Result<Option<Tariff>, String>, CoreError> {
    if connector.tariff_ids.is_empty() {
        return Ok(Ok(None));
    }
    for id in &connector.tariff_ids {
        let Some(row) = tariff::Entity::find_by_id(id.clone()).one(conn).await? else {
            continue;
        };
        let terms: TariffTerms = serde_json::from_str(&row.terms)
            .map_err(|e| CoreError::Invalid(format!("stored tariff {id}: {e}")))?;
        let started = terms.start_date_time.is_none_or(|s| s <= at);
        let not_ended = terms.end_date_time.is_none_or(|e| at < e);
        if started && not_ended {
            return Ok(Ok(Some(Tariff {
                id: row.id,
                terms,
                last_updated: row.last_updated,
            })));
        }
    }
    Ok(Err(format!(
        "none of the connector's tariffs {:?} exists and is valid at {at}",
        connector.tariff_ids
    )))
}

/// Every meter reading of transaction `transaction_id`, in the order taken (ties in the order
/// stored). The usage a session is priced by and the CDR's signed data read the same series,
/// so they are read here, in one order.
pub(crate) async fn transaction_samples<C: ConnectionTrait>(
    conn: &C,
    transaction_id: i32,
) -> Result<Vec<meter_sample::Model>, sea_orm::DbErr> {
    meter_sample::Entity::find()
        .filter(meter_sample::Column::TransactionId.eq(transaction_id))
        .order_by_asc(meter_sample::Column::Timestamp)
        .order_by_asc(meter_sample::Column::Id)
        .all(conn)
        .await
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;

    /// A reading of transaction 1 on station S, EVSE 1, connector 1 at `at` (Unix seconds);
    /// the CDR tests (`cdrs.rs`) build their signed readings on it too.
    pub(in crate::core) fn sample(
        at: i64,
        measurand: &str,
        phase: Option<&str>,
        unit: &str,
        value: &str,
    ) -> meter_sample::Model {
        meter_sample::Model {
            id: 0,
            station_id: "S".into(),
            evse_id: 1,
            connector_id: 1,
            transaction_id: Some(1),
            timestamp: DateTime::<Utc>::from_timestamp(at, 0).unwrap(),
            measurand: measurand.into(),
            phase: phase.map(Into::into),
            unit: Some(unit.into()),
            value: value.into(),
            context: None,
            location: None,
            format: None,
        }
    }

    #[test]
    fn readings_group_by_time_with_power_and_the_current_over_all_phases() {
        let points = meter_points(&[
            sample(10, REGISTER, None, "kWh", "1.5"),
            sample(10, "Power.Active.Import", None, "kW", "7.2"),
            sample(10, "Current.Import", Some("L1"), "A", "16"),
            sample(10, "Current.Import", Some("L2"), "A", "15"),
            sample(10, "Current.Import", Some("N"), "A", "1"),
            sample(20, "Voltage", None, "V", "230"),
            sample(30, REGISTER, None, "Wh", "2500"),
        ]);
        assert_eq!(points.len(), 2);
        assert_eq!(points[0].energy_wh, Some(Decimal::from(1500)));
        assert_eq!(points[0].power_w, Some(Decimal::from(7200)));
        assert_eq!(points[0].current_a, Some(Decimal::from(31)));
        assert_eq!(points[1].energy_wh, Some(Decimal::from(2500)));
    }
}
