//! Charging sessions: cars arriving on the plan, authorization, the transaction from start to
//! stop, metering under the charging limits in force, and the next car.

use rand::Rng;
use tokio::time::Instant;

use super::{ConnectorStatus, Origin, Phase, Protocol, Purpose, Session, Station, StopReason};
use crate::charging::{energy_wh, PowerCurve};
use crate::metrics::SessionRecord;

impl Station {
    pub(super) fn jittered(&mut self, seconds: f64) -> f64 {
        let jitter = self.spec.behaviour.sessions.jitter.clamp(0.0, 1.0);
        if jitter == 0.0 {
            return seconds;
        }
        seconds * self.rng.random_range((1.0 - jitter)..=(1.0 + jitter))
    }

    pub(super) fn next_token(&mut self) -> String {
        let tokens = &self.spec.behaviour.sessions.id_tokens;
        if tokens.is_empty() {
            return "SIM-TOKEN-1".into();
        }
        let token = tokens[self.token_turn % tokens.len()].clone();
        self.token_turn += 1;
        token
    }

    pub(super) fn load_token(&self) -> String {
        self.spec
            .load
            .as_ref()
            .map_or_else(|| "SIM-TOKEN-1".into(), |l| l.id_token.clone())
    }

    pub(super) fn car_arrives(&mut self, i: usize) {
        let c = &self.connectors[i];
        if c.session.is_some() || c.sessions_left == 0 {
            return;
        }
        if !c.operative || c.faulted_until.is_some() || c.reservation.is_some() {
            // Try again a little later, as the next driver would.
            let gap = self.spec.behaviour.sessions.gap_s.max(1.0);
            self.connectors[i].next_arrival = Some(self.clock.after(Instant::now(), gap));
            return;
        }
        let token = self.next_token();
        self.start_session(i, token, Origin::Plan);
    }

    /// A car plugs in on connector `i`: authorize (planned sessions, when online) and start.
    pub fn start_session(&mut self, i: usize, id_token: String, origin: Origin) {
        let key = self.next_session_key;
        self.next_session_key += 1;
        let planned_s = match origin {
            Origin::Plan => {
                let d = self.spec.behaviour.sessions.duration_s;
                self.jittered(d)
            }
            Origin::Remote(_) => self.spec.behaviour.remote_session_s,
            Origin::Load => f64::INFINITY,
        };
        let reservation_id = self.connectors[i]
            .reservation
            .take()
            .filter(|(_, token)| *token == id_token)
            .map(|(id, _)| id);
        let c = &mut self.connectors[i];
        c.session = Some(Session {
            key,
            station_tx_id: format!("{}-{}", self.spec.id, key),
            id_token: id_token.clone(),
            phase: Phase::Authorizing,
            origin: origin.clone(),
            meter_start_wh: c.register_wh,
            elapsed_s: 0.0,
            planned_s,
            next_meter: None,
            meter_values: 0,
            seq_no: 0,
            reservation_id,
            power_w: 0.0,
            authorized: true,
        });
        if self.spec.protocol == Protocol::V16 {
            self.set_status(i, ConnectorStatus::Preparing);
        }
        if origin == Origin::Plan && self.ws.is_some() && self.registered {
            let msg = self.msg_authorize(&id_token, Purpose::Authorize { connector: i, key });
            self.enqueue(msg);
        } else {
            self.begin_transaction(i);
        }
    }

    pub(super) fn begin_transaction(&mut self, i: usize) {
        let interval = self.meter_interval_s();
        let now = Instant::now();
        let load = self.spec.load.is_some();
        let register = self.connectors[i].register_wh;
        let Some(s) = self.connectors[i].session.as_mut() else {
            return;
        };
        s.phase = Phase::Charging;
        s.meter_start_wh = register;
        if !load {
            s.next_meter = Some(self.clock.after(now, interval.min(s.planned_s)));
        }
        let msg = self.msg_start(i);
        self.enqueue(msg);
        self.connectors[i].status = ConnectorStatus::Charging;
        if self.spec.protocol == Protocol::V16 {
            let msg = self.msg_status(i, None);
            self.enqueue(msg);
        }
    }

    /// The power limit in force on connector `i` (W), from the charging profiles it accepted.
    pub fn cap_w(&self, i: usize) -> f64 {
        let c = &self.connectors[i];
        c.limits
            .iter()
            .chain(self.station_limits.iter())
            .map(|(_, l)| l.watts())
            .fold(f64::INFINITY, f64::min)
    }

    pub(super) fn meter_tick(&mut self, i: usize, now: Instant) {
        let interval = self.meter_interval_s();
        let curve: PowerCurve = self.spec.behaviour.curve();
        let cap = self.cap_w(i);
        let Some(s) = self.connectors[i].session.as_mut() else {
            return;
        };
        if s.phase != Phase::Charging {
            return;
        }
        let step = interval.min(s.planned_s - s.elapsed_s).max(0.0);
        let power = curve.power_at(s.elapsed_s + step, s.planned_s).min(cap);
        s.elapsed_s += step;
        s.power_w = power;
        s.meter_values += 1;
        let count = s.meter_values;
        let finished = s.elapsed_s >= s.planned_s - 1e-9;
        self.connectors[i].register_wh += energy_wh(power, step);
        if let Some(s) = self.connectors[i].session.as_mut() {
            let remaining = (s.planned_s - s.elapsed_s).max(0.0);
            s.next_meter = if finished || s.next_meter.is_none() {
                None
            } else {
                Some(self.clock.after(now, interval.min(remaining)))
            };
        }
        if finished {
            self.end_session(i, StopReason::EvDisconnected);
        } else {
            let msg = self.msg_meter(i);
            self.enqueue(msg);
        }
        if let Some(f) = self.spec.behaviour.faults.drop_mid_session.clone() {
            if !self.fired_drop && count >= f.after_meter_values && self.ws.is_some() {
                self.fired_drop = true;
                self.metrics.note(format!(
                    "{}: dropping the connection mid-session",
                    self.spec.id
                ));
                // No close frame: the TCP connection just goes away, as when a modem loses
                // its signal.
                self.lost_connection(f.reconnect_after_s);
            }
        }
    }

    /// Ends the session on connector `i`: the stop message is queued (durable) and recorded in
    /// the ledger.
    pub fn end_session(&mut self, i: usize, reason: StopReason) {
        let Some(session) = self.connectors[i].session.clone() else {
            return;
        };
        if session.phase == Phase::Authorizing {
            self.connectors[i].session = None;
            self.set_status(i, ConnectorStatus::Available);
            return;
        }
        let stop = self.msg_stop(i, reason);
        self.enqueue(stop);
        let c = &self.connectors[i];
        self.metrics.session(SessionRecord {
            station_id: self.spec.id.clone(),
            evse_id: c.evse,
            connector_id: c.connector,
            id_token: session.id_token.clone(),
            meter_start_wh: session.meter_start_wh,
            meter_stop_wh: c.register_wh,
            stop_reason: self.reason_text(reason).to_owned(),
            station_transaction_id: (self.spec.protocol == Protocol::V201)
                .then(|| session.station_tx_id.clone()),
            authorized: session.authorized,
        });
        self.connectors[i].session = None;
        if self.spec.protocol == Protocol::V16 && reason == StopReason::EvDisconnected {
            self.set_status(i, ConnectorStatus::Finishing);
        }
        let next = if self.connectors[i].operative {
            ConnectorStatus::Available
        } else {
            ConnectorStatus::Unavailable
        };
        self.set_status(i, next);
        if session.origin == Origin::Plan {
            self.plan_next_car(i);
        }
    }

    pub(super) fn plan_next_car(&mut self, i: usize) {
        let c = &mut self.connectors[i];
        c.sessions_left = c.sessions_left.saturating_sub(1);
        if c.sessions_left > 0 {
            let gap = self.spec.behaviour.sessions.gap_s;
            let gap = self.jittered(gap);
            self.connectors[i].next_arrival = Some(self.clock.after(Instant::now(), gap));
        }
    }
}
