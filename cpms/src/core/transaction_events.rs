//! OCPP 2.0.1 transactions, told by the station as a series of TransactionEvents.
//!
//! Invariant: **a 2.0.1 transaction is a function of the set of its stored events.** Stations
//! replay events after an offline period, resend one whose answer they lost, and may deliver them
//! out of order (OCPP 2.0.1 E: seqNo exists so the CSMS can tell). So each event is stored once
//! (unique on station, station transaction id and seqNo; a second copy is answered without
//! effect), and after every new event the transaction row is derived again from all its events in
//! seqNo order: the start from the Started event, the stop from the Ended event, the latest
//! register by timestamp. Whatever the arrival order, the same events give the same transaction,
//! and no reading is counted twice.

use chrono::{DateTime, Utc};
use ocpp_gateway::port::{TokenVerdict, TransactionEventKind, TransactionEventReport};
use rust_decimal::Decimal;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter, QueryOrder,
    TransactionTrait,
};

use super::sessions::SessionChange;
use super::transactions::{insert_samples, parse_wh, register_wh, sample_rows, TransactionState};
use super::usage::pin_session_tariff;
use super::{Core, CoreError};
use crate::entities::{transaction, transaction_event};
use crate::events::DomainEvent;

/// Authorization status recorded for a transaction no token has been presented for (yet): 2.0.1
/// lets a transaction start when the cable is plugged in, before any authorization.
const NO_TOKEN_STATUS: &str = "None";

/// What one stored event says about its transaction.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct EventFacts {
    pub kind: TransactionEventKind,
    pub seq_no: i64,
    pub timestamp: DateTime<Utc>,
    pub evse: Option<(i32, i32)>,
    pub id_token: Option<String>,
    pub stopped_reason: Option<String>,
    pub reservation_id: Option<i32>,
    pub remote_start_id: Option<i32>,
    /// Earliest register reading of the event: (sampled at, Wh).
    pub first_register: Option<(DateTime<Utc>, Decimal)>,
    /// Latest register reading of the event: (sampled at, Wh).
    pub last_register: Option<(DateTime<Utc>, Decimal)>,
}

/// The transaction as its events describe it.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Derived {
    pub evse: (i32, i32),
    pub id_token: Option<String>,
    pub started_at: DateTime<Utc>,
    pub meter_start: Decimal,
    pub last_meter: Option<(DateTime<Utc>, Decimal)>,
    pub stop: Option<Stop>,
    pub reservation_id: Option<i32>,
    pub remote_start_id: Option<i32>,
}

/// The end of a transaction, from its Ended event.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Stop {
    pub at: DateTime<Utc>,
    pub meter_stop: Decimal,
    pub reason: String,
    pub id_token: Option<String>,
}

fn kind_to_db(kind: TransactionEventKind) -> &'static str {
    match kind {
        TransactionEventKind::Started => "Started",
        TransactionEventKind::Updated => "Updated",
        TransactionEventKind::Ended => "Ended",
    }
}

fn kind_from_db(s: &str) -> TransactionEventKind {
    match s {
        "Started" => TransactionEventKind::Started,
        "Ended" => TransactionEventKind::Ended,
        _ => TransactionEventKind::Updated,
    }
}

impl EventFacts {
    fn from_report(event: &TransactionEventReport) -> Self {
        let registers = event
            .readings
            .iter()
            .filter_map(|r| register_wh(r).map(|wh| (r.timestamp, wh)));
        EventFacts {
            kind: event.kind,
            seq_no: event.seq_no,
            timestamp: event.timestamp,
            evse: event.evse.map(|e| (e.evse_id, e.connector_id)),
            id_token: event.id_token.clone(),
            stopped_reason: event.stopped_reason.clone(),
            reservation_id: event.reservation_id,
            remote_start_id: event.remote_start_id,
            first_register: registers.clone().min_by_key(|(at, _)| *at),
            last_register: registers.max_by_key(|(at, _)| *at),
        }
    }

    fn from_row(row: &transaction_event::Model) -> Self {
        let register = |wh: &Option<String>, at: Option<DateTime<Utc>>| {
            wh.as_deref().zip(at).map(|(wh, at)| (at, parse_wh(wh)))
        };
        EventFacts {
            kind: kind_from_db(&row.event_type),
            seq_no: row.seq_no,
            timestamp: row.timestamp,
            evse: row.evse_id.map(|e| (e, row.connector_id.unwrap_or(1))),
            id_token: row.id_token.clone(),
            stopped_reason: row.stopped_reason.clone(),
            reservation_id: row.reservation_id,
            remote_start_id: row.remote_start_id,
            first_register: register(&row.first_register_wh, row.first_register_at),
            last_register: register(&row.last_register_wh, row.last_register_at),
        }
    }
}

/// The transaction of `events` (any order; at least one). Start fields come from the Started
/// event, or, while it has not arrived, from the earliest event that has them; stop fields from
/// the Ended event; the latest register is the latest by sampling time over all events.
pub(crate) fn derive(events: &[EventFacts]) -> Option<Derived> {
    let mut events: Vec<&EventFacts> = events.iter().collect();
    events.sort_by_key(|e| e.seq_no);
    let first = *events.first()?;
    let started = events
        .iter()
        .find(|e| e.kind == TransactionEventKind::Started)
        .copied();
    let ended = events
        .iter()
        .find(|e| e.kind == TransactionEventKind::Ended)
        .copied();
    let first_with = |pick: &dyn Fn(&EventFacts) -> bool| -> Option<&EventFacts> {
        started
            .filter(|s| pick(s))
            .or_else(|| events.iter().find(|e| pick(e)).copied())
    };
    let last_meter = events
        .iter()
        .filter_map(|e| e.last_register)
        .max_by_key(|(at, _)| *at);
    // The start register: the Started event's first reading; without one, the earliest reading
    // of any event (what was delivered before it is unknown, never guessed).
    let meter_start = started
        .and_then(|s| s.first_register)
        .or_else(|| {
            events
                .iter()
                .filter_map(|e| e.first_register)
                .min_by_key(|(at, _)| *at)
        })
        .map(|(_, wh)| wh)
        .unwrap_or(Decimal::ZERO);
    let stop = ended.map(|e| Stop {
        at: e.timestamp,
        meter_stop: e
            .last_register
            .or(last_meter)
            .map(|(_, wh)| wh)
            .unwrap_or(meter_start),
        // OCPP 2.0.1 TransactionType: stoppedReason may be left out when it is Local.
        reason: e
            .stopped_reason
            .clone()
            .unwrap_or_else(|| "Local".to_owned()),
        id_token: e.id_token.clone(),
    });
    Some(Derived {
        evse: first_with(&|e| e.evse.is_some())
            .and_then(|e| e.evse)
            .unwrap_or((0, 0)),
        id_token: first_with(&|e| e.id_token.is_some()).and_then(|e| e.id_token.clone()),
        started_at: started.map(|s| s.timestamp).unwrap_or_else(|| {
            events
                .iter()
                .map(|e| e.timestamp)
                .min()
                .unwrap_or(first.timestamp)
        }),
        meter_start,
        last_meter,
        stop,
        reservation_id: first_with(&|e| e.reservation_id.is_some()).and_then(|e| e.reservation_id),
        remote_start_id: first_with(&|e| e.remote_start_id.is_some())
            .and_then(|e| e.remote_start_id),
    })
}

/// Writes the derived fields onto a transaction row.
fn apply(row: &mut transaction::ActiveModel, derived: &Derived, authorization_status: &str) {
    row.evse_id = Set(derived.evse.0);
    row.connector_id = Set(derived.evse.1);
    row.id_token = Set(derived.id_token.clone().unwrap_or_default());
    row.authorization_status = Set(authorization_status.to_owned());
    row.started_at = Set(derived.started_at);
    row.meter_start_wh = Set(derived.meter_start.normalize().to_string());
    row.last_meter_wh = Set(derived.last_meter.map(|(_, wh)| wh.normalize().to_string()));
    row.last_meter_at = Set(derived.last_meter.map(|(at, _)| at));
    row.state = Set(if derived.stop.is_some() {
        TransactionState::Stopped
    } else {
        TransactionState::Active
    }
    .as_str()
    .to_owned());
    row.stopped_at = Set(derived.stop.as_ref().map(|s| s.at));
    row.meter_stop_wh = Set(derived
        .stop
        .as_ref()
        .map(|s| s.meter_stop.normalize().to_string()));
    row.stop_reason = Set(derived.stop.as_ref().map(|s| s.reason.clone()));
    row.stop_id_token = Set(derived.stop.as_ref().and_then(|s| s.id_token.clone()));
    row.reservation_id = Set(derived.reservation_id);
    row.remote_start_id = Set(derived.remote_start_id);
}

fn energy(derived: &Derived) -> Decimal {
    let end = derived
        .stop
        .as_ref()
        .map(|s| s.meter_stop)
        .or(derived.last_meter.map(|(_, wh)| wh))
        .unwrap_or(derived.meter_start);
    (end - derived.meter_start).max(Decimal::ZERO)
}

impl Core {
    /// Stores one TransactionEvent (once) and derives its transaction again; see the module
    /// documentation. Returns the verdict on the event's id token, when it carried one.
    pub(crate) async fn apply_transaction_event(
        &self,
        station_id: &str,
        event: TransactionEventReport,
    ) -> Result<Option<TokenVerdict>, CoreError> {
        // Asked before the database transaction: SQLite has one pooled connection. The same
        // question as 2.0.1 Authorize; a roaming token that decided is kept for the OCPI Session.
        let (verdict, authorization_reference, origin) = match &event.id_token {
            Some(token) => {
                let (v, reference, origin) = self.decide_with_origin(token).await?;
                (Some(v), reference, origin)
            }
            None => (None, None, None),
        };
        let now = self.now();
        let txn = self.db.begin().await?;
        let duplicate = transaction_event::Entity::find()
            .filter(transaction_event::Column::StationId.eq(station_id))
            .filter(
                transaction_event::Column::StationTransactionId
                    .eq(event.station_transaction_id.as_str()),
            )
            .filter(transaction_event::Column::SeqNo.eq(event.seq_no))
            .one(&txn)
            .await?;
        if duplicate.is_some() {
            txn.commit().await?;
            tracing::info!(station = %station_id, transaction = %event.station_transaction_id, seq_no = event.seq_no, "repeated TransactionEvent answered without effect");
            return Ok(verdict);
        }

        let facts = EventFacts::from_report(&event);
        let token_status = verdict
            .as_ref()
            .map(|v| format!("{:?}", v.status))
            .unwrap_or_else(|| NO_TOKEN_STATUS.to_owned());
        let existing = transaction::Entity::find()
            .filter(transaction::Column::StationId.eq(station_id))
            .filter(
                transaction::Column::StationTransactionId.eq(event.station_transaction_id.as_str()),
            )
            .one(&txn)
            .await?;
        let created = existing.is_none();
        let before = match existing {
            Some(row) => row,
            None => {
                let derived = derive(std::slice::from_ref(&facts))
                    .ok_or_else(|| CoreError::Invalid("no event".into()))?;
                let mut row = transaction::ActiveModel {
                    id: sea_orm::ActiveValue::NotSet,
                    station_id: Set(station_id.to_owned()),
                    station_transaction_id: Set(Some(event.station_transaction_id.clone())),
                    created_at: Set(now),
                    updated_at: Set(now),
                    authorization_reference: Set(authorization_reference.clone()),
                    ocpi_partner_id: Set(origin.map(|o| o.partner_id)),
                    ocpi_token_id: Set(origin.map(|o| o.token_id)),
                    ocpi_auth_method: Set(origin.map(|o| o.auth_method().to_owned())),
                    ..Default::default()
                };
                apply(&mut row, &derived, &token_status);
                row.insert(&txn).await?
            }
        };
        let tx_id = before.id;

        transaction_event::ActiveModel {
            id: sea_orm::ActiveValue::NotSet,
            station_id: Set(station_id.to_owned()),
            station_transaction_id: Set(event.station_transaction_id.clone()),
            seq_no: Set(event.seq_no),
            transaction_id: Set(tx_id),
            event_type: Set(kind_to_db(event.kind).to_owned()),
            timestamp: Set(event.timestamp),
            trigger_reason: Set(event.trigger_reason.clone()),
            offline: Set(event.offline),
            evse_id: Set(event.evse.map(|e| e.evse_id)),
            connector_id: Set(event.evse.map(|e| e.connector_id)),
            id_token: Set(event.id_token.clone()),
            charging_state: Set(event.charging_state.clone()),
            stopped_reason: Set(event.stopped_reason.clone()),
            remote_start_id: Set(event.remote_start_id),
            reservation_id: Set(event.reservation_id),
            first_register_wh: Set(facts
                .first_register
                .map(|(_, wh)| wh.normalize().to_string())),
            first_register_at: Set(facts.first_register.map(|(at, _)| at)),
            last_register_wh: Set(facts
                .last_register
                .map(|(_, wh)| wh.normalize().to_string())),
            last_register_at: Set(facts.last_register.map(|(at, _)| at)),
            received_at: Set(now),
        }
        .insert(&txn)
        .await?;

        let rows = transaction_event::Entity::find()
            .filter(transaction_event::Column::TransactionId.eq(tx_id))
            .order_by_asc(transaction_event::Column::SeqNo)
            .all(&txn)
            .await?;
        let all: Vec<EventFacts> = rows.iter().map(EventFacts::from_row).collect();
        let derived = derive(&all).ok_or_else(|| CoreError::Invalid("no event".into()))?;
        // The token status follows the token the transaction is derived to have: this event's
        // verdict when the token is this event's, else what was recorded before.
        let authorization_status = match (&derived.id_token, &event.id_token) {
            (Some(derived_token), Some(token)) if derived_token == token => token_status.clone(),
            (Some(derived_token), _) if *derived_token == before.id_token => {
                before.authorization_status.clone()
            }
            (None, _) => NO_TOKEN_STATUS.to_owned(),
            _ => before.authorization_status.clone(),
        };
        let evse = event
            .evse
            .map(|e| (e.evse_id, e.connector_id))
            .unwrap_or(derived.evse);
        let samples = sample_rows(station_id, evse.0, evse.1, Some(tx_id), &event.readings);
        let sample_count = samples.len();
        insert_samples(&txn, samples).await?;

        let was_stopped = before.state == TransactionState::Stopped.as_str();
        let last_meter_before = before.last_meter_wh.clone();
        // The Session exists from the first event whose roaming token the transaction is derived
        // to have; a row created by this very event already carries it.
        let had_session = !created && before.ocpi_partner_id.is_some();
        let told_before = (
            before.started_at,
            before.meter_start_wh.clone(),
            before.meter_stop_wh.clone(),
        );
        let mut row: transaction::ActiveModel = before.into();
        apply(&mut row, &derived, &authorization_status);
        let token_is_this_events =
            matches!((&derived.id_token, &event.id_token), (Some(d), Some(t)) if d == t);
        // A token authorized in real time after the start (2.0.1 E01 Authorized trigger)
        // brings its eMSP reference to the transaction it now belongs to.
        if authorization_reference.is_some() && token_is_this_events {
            row.authorization_reference = Set(authorization_reference);
        }
        // Likewise its owning eMSP: the transaction's Session is pushed to that partner only.
        if let Some(origin) = origin.filter(|_| token_is_this_events && !had_session) {
            row.ocpi_partner_id = Set(Some(origin.partner_id));
            row.ocpi_token_id = Set(Some(origin.token_id));
            row.ocpi_auth_method = Set(Some(origin.auth_method().to_owned()));
        }
        row.updated_at = Set(now);
        let mut after = row.update(&txn).await?;
        // The Session starts now: it keeps the tariff it starts under (see
        // `pin_session_tariff`), whatever the operator changes later.
        if after.ocpi_partner_id.is_some() && !had_session {
            after = pin_session_tariff(&txn, after).await?;
        }
        // The Session pushes commit with the event (the outbox invariant): PUT when the
        // transaction first has its roaming token (ACTIVE, or INVALID when refused), a throttled
        // PATCH when the energy moved, the final PUT (COMPLETED) when the Ended event arrives.
        let mut pushed = false;
        if after.ocpi_partner_id.is_some() {
            if !had_session {
                pushed |= self
                    .enqueue_session(&txn, &after, SessionChange::Started)
                    .await?;
            }
            // A late event of a stopped transaction (replayed after an offline period, out of
            // order) may move its start or stop: the eMSP gets the final state again.
            let moved = told_before
                != (
                    after.started_at,
                    after.meter_start_wh.clone(),
                    after.meter_stop_wh.clone(),
                );
            if derived.stop.is_some() && (!was_stopped || (had_session && moved)) {
                pushed |= self
                    .enqueue_session(&txn, &after, SessionChange::Stopped)
                    .await?;
            } else if had_session
                && derived.stop.is_none()
                && after.last_meter_wh != last_meter_before
            {
                pushed |= self
                    .enqueue_session(&txn, &after, SessionChange::Charging)
                    .await?;
            }
            // The CDR and its push commit with the Ended event (CDRs: one per completed
            // session); `create_cdr` is idempotent, so a replayed Ended adds none.
            if derived.stop.is_some() && !was_stopped {
                pushed |= self.create_cdr(&txn, &after).await?;
            }
        }
        txn.commit().await?;
        if pushed {
            self.wake_push();
        }

        if created {
            self.events.publish(
                station_id,
                DomainEvent::TransactionStarted {
                    transaction_id: tx_id,
                    evse_id: after.evse_id,
                    connector_id: after.connector_id,
                    id_token: after.id_token.clone(),
                    authorization_status: after.authorization_status.clone(),
                    started_at: after.started_at,
                },
            );
        }
        if sample_count > 0 {
            self.events.publish(
                station_id,
                DomainEvent::MeterValues {
                    evse_id: evse.0,
                    transaction_id: Some(tx_id),
                    samples: sample_count,
                },
            );
        }
        match &derived.stop {
            None if after.last_meter_wh != last_meter_before => self.events.publish(
                station_id,
                DomainEvent::TransactionUpdated {
                    transaction_id: tx_id,
                    energy_wh: energy(&derived),
                },
            ),
            Some(stop) if !was_stopped => self.events.publish(
                station_id,
                DomainEvent::TransactionEnded {
                    transaction_id: tx_id,
                    energy_wh: energy(&derived),
                    stop_reason: stop.reason.clone(),
                    stopped_at: stop.at,
                },
            ),
            _ => {}
        }
        Ok(verdict)
    }

    /// The station's own id of a CPMS transaction (2.0.1 stations only), for RequestStop.
    pub async fn station_transaction_id(&self, id: i64) -> Result<Option<String>, CoreError> {
        let Ok(id) = i32::try_from(id) else {
            return Ok(None);
        };
        Ok(transaction::Entity::find_by_id(id)
            .one(&self.db)
            .await?
            .and_then(|t| t.station_transaction_id))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn at(minute: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2024, 5, 1, 10, minute, 0).unwrap()
    }

    fn event(kind: TransactionEventKind, seq_no: i64, minute: u32, wh: Option<i64>) -> EventFacts {
        EventFacts {
            kind,
            seq_no,
            timestamp: at(minute),
            evse: None,
            id_token: None,
            stopped_reason: None,
            reservation_id: None,
            remote_start_id: None,
            first_register: wh.map(|wh| (at(minute), Decimal::from(wh))),
            last_register: wh.map(|wh| (at(minute), Decimal::from(wh))),
        }
    }

    fn session() -> Vec<EventFacts> {
        use TransactionEventKind::*;
        let mut started = event(Started, 0, 0, Some(1000));
        started.evse = Some((1, 1));
        started.id_token = Some("TAG".into());
        started.remote_start_id = Some(7);
        let mut ended = event(Ended, 3, 30, Some(4000));
        ended.stopped_reason = Some("EVDisconnected".into());
        vec![
            started,
            event(Updated, 1, 10, Some(2000)),
            event(Updated, 2, 20, Some(3000)),
            ended,
        ]
    }

    #[test]
    fn every_arrival_order_gives_the_same_transaction() {
        let events = session();
        let expected = derive(&events).unwrap();
        assert_eq!(expected.meter_start, Decimal::from(1000));
        assert_eq!(expected.evse, (1, 1));
        assert_eq!(expected.id_token.as_deref(), Some("TAG"));
        assert_eq!(expected.remote_start_id, Some(7));
        let stop = expected.stop.clone().unwrap();
        assert_eq!(stop.meter_stop, Decimal::from(4000));
        assert_eq!(stop.reason, "EVDisconnected");
        assert_eq!(energy(&expected), Decimal::from(3000));
        for order in [[3, 2, 1, 0], [1, 3, 0, 2], [2, 0, 3, 1]] {
            let shuffled: Vec<EventFacts> = order.iter().map(|i| events[*i].clone()).collect();
            assert_eq!(derive(&shuffled).unwrap(), expected, "{order:?}");
        }
    }

    #[test]
    fn before_the_started_event_arrives_the_earliest_reading_is_the_start() {
        let events = session();
        let without_start = derive(&events[1..3]).unwrap();
        assert_eq!(without_start.meter_start, Decimal::from(2000));
        assert_eq!(without_start.started_at, at(10));
        assert!(without_start.stop.is_none());
        assert_eq!(without_start.last_meter.unwrap().1, Decimal::from(3000));
    }

    #[test]
    fn an_updated_event_after_the_end_does_not_move_the_stop_register() {
        let mut events = session();
        // A late reading from the Updated stream, sampled after the stop (clock skew).
        events.push(event(TransactionEventKind::Updated, 4, 40, Some(9000)));
        let derived = derive(&events).unwrap();
        assert_eq!(derived.stop.unwrap().meter_stop, Decimal::from(4000));
    }
}
