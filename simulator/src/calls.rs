//! What a station does on the CSMS's calls, whatever the OCPP version. [`crate::v16`] and
//! [`crate::v201`] decode a call with their version's types, pick the connectors it names and
//! word the answer; the effect on the station, the same in both versions, is here once.

use rust_decimal::prelude::ToPrimitive;
use rust_decimal::Decimal;
use serde::de::DeserializeOwned;
use serde_json::{json, Value};

use crate::charging::Limit;
use crate::station::{CallFailure, Connector, ConnectorStatus, Origin, Station, StopReason};

/// Decodes a CALL payload; `code` is the version's name for a payload that does not fit the
/// action's schema (1.6 FormationViolation, 2.0.1 FormatViolation).
pub(crate) fn decode<T: DeserializeOwned>(
    payload: Value,
    code: &'static str,
) -> Result<T, CallFailure> {
    serde_json::from_value(payload).map_err(|e| CallFailure {
        code,
        description: e.to_string(),
    })
}

/// The `{"status": …}` answer most calls get.
pub(crate) fn reply(status: &str) -> Result<Value, CallFailure> {
    Ok(json!({ "status": status }))
}

/// Registration status and heartbeat interval of a BootNotification answer, read first as the
/// version's response type `R`.
pub(crate) fn boot_answer<R: DeserializeOwned>(
    payload: &Value,
    read: impl FnOnce(R) -> (String, u64),
) -> (String, u64) {
    match serde_json::from_value::<R>(payload.clone()) {
        Ok(answer) => read(answer),
        // Firmware is lenient where it can be: a status and an interval it can read are
        // enough (an interval beyond the schema's range is still an interval).
        Err(_) => match payload["status"].as_str() {
            Some(status) => (
                status.to_owned(),
                payload["interval"].as_u64().unwrap_or(60),
            ),
            None => ("Invalid".into(), 60),
        },
    }
}

/// Whether an idTagInfo (1.6) or idTokenInfo (2.0.1) says Accepted.
pub(crate) fn token_accepted(info: &Value) -> bool {
    info["status"] == "Accepted"
}

/// The limit of a schedule period, in watts or (with `watts` false) amps on `number_phases`
/// phases, three when not given.
pub(crate) fn period_limit(
    limit: &Decimal,
    watts: bool,
    number_phases: Option<i32>,
) -> Option<Limit> {
    let value = limit.to_f64()?;
    Some(if watts {
        Limit::Watts(value)
    } else {
        Limit::Amps(value, number_phases.unwrap_or(3).max(1) as u32)
    })
}

/// Puts limit `id` in place of any earlier limit with that id.
fn replace_limit(limits: &mut Vec<(i32, Limit)>, id: i32, limit: Limit) {
    limits.retain(|(p, _)| *p != id);
    limits.push((id, limit));
}

impl Station {
    /// Whether connector `i` can start a session for `token` now: idle, operative, not faulted
    /// and not reserved for another token.
    pub(crate) fn can_start_for(&self, i: usize, token: &str) -> bool {
        let c = &self.connectors[i];
        c.session.is_none()
            && c.operative
            && c.faulted_until.is_none()
            && c.reservation.as_ref().is_none_or(|(_, t)| t == token)
    }

    /// Starts a session the CSMS asked for on connector `i`, under the charging profile limit
    /// that came with the request.
    pub(crate) fn remote_start(
        &mut self,
        i: usize,
        token: String,
        profile: Option<(i32, Limit)>,
        origin: Origin,
    ) -> &'static str {
        if let Some((id, limit)) = profile {
            replace_limit(&mut self.connectors[i].limits, id, limit);
        }
        self.start_session(i, token, origin);
        "Accepted"
    }

    /// Ends the session on the connector the CSMS's transaction id named, if any.
    pub(crate) fn remote_stop(&mut self, connector: Option<usize>) -> &'static str {
        match connector {
            Some(i) => {
                self.end_session(i, StopReason::Remote);
                "Accepted"
            }
            None => "Rejected",
        }
    }

    /// Makes `targets` operative or inoperative; connectors in a session change when it ends.
    pub(crate) fn change_availability(
        &mut self,
        targets: Vec<usize>,
        operative: bool,
    ) -> &'static str {
        let mut scheduled = false;
        for i in targets {
            self.connectors[i].operative = operative;
            if self.connectors[i].session.is_some() {
                // Takes effect when the transaction ends (1.6 §5.2, 2.0.1 G03).
                scheduled = true;
            } else if self.connectors[i].faulted_until.is_none() {
                let next = if operative {
                    ConnectorStatus::Available
                } else {
                    ConnectorStatus::Unavailable
                };
                self.set_status(i, next);
            }
        }
        if scheduled {
            "Scheduled"
        } else {
            "Accepted"
        }
    }

    /// Unlocks connector `i`, ending its session first.
    pub(crate) fn unlock(&mut self, i: usize) -> &'static str {
        if self.connectors[i].session.is_some() {
            self.end_session(i, StopReason::UnlockCommand);
        }
        "Unlocked"
    }

    /// Replaces (`full`) or updates the local authorization list; an entry without a status
    /// removes its token.
    pub(crate) fn update_local_list(
        &mut self,
        full: bool,
        version: i32,
        entries: impl IntoIterator<Item = (String, Option<String>)>,
    ) -> &'static str {
        if full {
            self.local_list.1.clear();
        }
        for (token, status) in entries {
            match status {
                Some(status) => {
                    self.local_list.1.insert(token, status);
                }
                None => {
                    self.local_list.1.remove(&token);
                }
            }
        }
        self.local_list.0 = version;
        "Accepted"
    }

    /// Sets charging profile limit `id` station-wide (`targets` None) or on `targets`; a
    /// TxProfile needs a running transaction on one of them (1.6 §3.13.4, 2.0.1 K01.FR.09).
    pub(crate) fn set_profile(
        &mut self,
        targets: Option<Vec<usize>>,
        id: i32,
        limit: Limit,
        tx_profile: bool,
    ) -> &'static str {
        let Some(targets) = targets else {
            replace_limit(&mut self.station_limits, id, limit);
            return "Accepted";
        };
        if targets.is_empty()
            || tx_profile
                && targets
                    .iter()
                    .all(|&i| self.connectors[i].session.is_none())
        {
            return "Rejected";
        }
        for i in targets {
            replace_limit(&mut self.connectors[i].limits, id, limit);
        }
        "Accepted"
    }

    /// Removes the profile limits `clear` picks, given a profile id and the connector it is on
    /// (None: station-wide).
    pub(crate) fn clear_profiles(
        &mut self,
        clear: impl Fn(i32, Option<&Connector>) -> bool,
    ) -> &'static str {
        let before = self.station_limits.len();
        self.station_limits.retain(|(p, _)| !clear(*p, None));
        let mut cleared = before - self.station_limits.len();
        for c in &mut self.connectors {
            let mut limits = std::mem::take(&mut c.limits);
            let before = limits.len();
            limits.retain(|(p, _)| !clear(*p, Some(c)));
            cleared += before - limits.len();
            c.limits = limits;
        }
        if cleared > 0 {
            "Accepted"
        } else {
            "Unknown"
        }
    }

    /// Reserves connector `i` for `token` if it is free.
    pub(crate) fn reserve(&mut self, i: usize, reservation_id: i32, token: String) -> &'static str {
        let c = &self.connectors[i];
        let answer = if c.faulted_until.is_some() {
            "Faulted"
        } else if !c.operative {
            "Unavailable"
        } else if c.session.is_some() || c.reservation.is_some() {
            "Occupied"
        } else {
            "Accepted"
        };
        if answer == "Accepted" {
            self.connectors[i].reservation = Some((reservation_id, token));
            self.set_status(i, ConnectorStatus::Reserved);
        }
        answer
    }

    /// Cancels reservation `reservation_id`, freeing its connector.
    pub(crate) fn cancel_reservation(&mut self, reservation_id: i32) -> &'static str {
        let found = self.connectors.iter().position(|c| {
            c.reservation
                .as_ref()
                .is_some_and(|(id, _)| *id == reservation_id)
        });
        match found {
            Some(i) => {
                self.connectors[i].reservation = None;
                self.set_status(i, ConnectorStatus::Available);
                "Accepted"
            }
            None => "Rejected",
        }
    }
}

/// An idle, unconnected station of two single-connector EVSEs, for the adapters' unit tests.
#[cfg(test)]
pub(crate) fn idle_station(protocol: crate::station::Protocol) -> Station {
    use std::sync::Arc;

    use crate::clock::SimClock;
    use crate::metrics::Metrics;
    use crate::plan::Behaviour;
    use crate::station::StationSpec;

    let spec = StationSpec {
        id: "SIM-1".into(),
        index: 1,
        url: "ws://127.0.0.1:1/ocpp/SIM-1".into(),
        protocol,
        password: None,
        tls: None,
        evses: 2,
        connectors_per_evse: 1,
        behaviour: Behaviour::default(),
        load: None,
    };
    let (_tx, rx) = tokio::sync::watch::channel(false);
    Station::new(
        spec,
        SimClock::new(1.0),
        Arc::new(Metrics::default()),
        rx,
        None,
    )
}
