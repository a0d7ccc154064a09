//! What a station is told to do, as scenarios and the load mode spell it: its charging sessions,
//! the faults to inject and the message mix of a load run. Plain data, read from TOML.

use serde::{Deserialize, Serialize};

use crate::charging::PowerCurve;

/// Everything about a station's conduct except where it connects.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct Behaviour {
    /// Heartbeat interval until the CSMS gives one (simulated seconds).
    pub heartbeat_s: u64,
    /// MeterValueSampleInterval: seconds between meter values of a running session.
    pub meter_interval_s: u64,
    /// Highest power a connector delivers (W).
    pub max_power_w: f64,
    /// Seconds from plug-in to full power.
    pub ramp_s: f64,
    /// Charging sessions the station starts by itself.
    pub sessions: SessionPlan,
    /// How long a session started by the CSMS (RemoteStart / RequestStartTransaction) lasts.
    pub remote_session_s: f64,
    /// Seconds to wait before reconnecting after a lost connection.
    pub reconnect_delay_s: f64,
    /// Faults to inject.
    pub faults: Faults,
}

impl Default for Behaviour {
    fn default() -> Self {
        Behaviour {
            heartbeat_s: 300,
            meter_interval_s: 60,
            max_power_w: 11_000.0,
            ramp_s: 60.0,
            sessions: SessionPlan::default(),
            remote_session_s: 1800.0,
            reconnect_delay_s: 5.0,
            faults: Faults::default(),
        }
    }
}

impl Behaviour {
    /// The car's charging curve on this station.
    pub fn curve(&self) -> PowerCurve {
        PowerCurve {
            max_w: self.max_power_w,
            ramp_s: self.ramp_s,
            ..PowerCurve::default()
        }
    }
}

/// Charging sessions each connector runs by itself: cars arriving, charging, leaving.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct SessionPlan {
    /// Sessions per connector (0: none; the connector waits for the CSMS).
    pub per_connector: u32,
    /// Simulated seconds after the first accepted boot until the first car arrives.
    pub first_after_s: f64,
    /// Mean simulated seconds between a car leaving and the next arriving.
    pub gap_s: f64,
    /// Session length (simulated seconds, plug-in to unplug).
    pub duration_s: f64,
    /// Spread of gaps and durations as a fraction (0: exactly as given).
    pub jitter: f64,
    /// Id tokens presented, in turn.
    pub id_tokens: Vec<String>,
}

impl Default for SessionPlan {
    fn default() -> Self {
        SessionPlan {
            per_connector: 0,
            first_after_s: 5.0,
            gap_s: 600.0,
            duration_s: 1800.0,
            jitter: 0.0,
            id_tokens: vec!["SIM-TOKEN-1".into()],
        }
    }
}

/// Misbehaviour to inject, each at most once per station life.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct Faults {
    /// Drop the TCP connection without a close frame in the middle of a session.
    pub drop_mid_session: Option<DropFault>,
    /// Go offline for a while; transactions and meter values are queued and replayed in order.
    pub offline: Option<OfflineFault>,
    /// Report a connector Faulted, then Available again.
    pub faulted: Option<FaultedFault>,
    /// Send one frame that is not valid OCPP-J after the first boot.
    pub malformed_frame: bool,
}

/// See [`Faults::drop_mid_session`].
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct DropFault {
    /// Drop after this many meter values of the first session.
    pub after_meter_values: u32,
    /// Simulated seconds before reconnecting.
    pub reconnect_after_s: f64,
}

/// See [`Faults::offline`].
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct OfflineFault {
    /// Simulated seconds after the first accepted boot.
    pub at_s: f64,
    /// How long the station stays offline (simulated seconds).
    pub for_s: f64,
}

/// See [`Faults::faulted`].
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct FaultedFault {
    /// Simulated seconds after the first accepted boot.
    pub at_s: f64,
    /// How long the connector stays Faulted.
    pub for_s: f64,
    /// 1.6 connector id (EVSE-major numbering) of the connector that fails.
    #[serde(default = "one")]
    pub connector: u32,
    /// 1.6 ChargePointErrorCode reported.
    #[serde(default = "ground_failure")]
    pub error_code: String,
}

fn one() -> u32 {
    1
}

fn ground_failure() -> String {
    "GroundFailure".into()
}

/// The message mix of a load run: relative weights of what each station sends.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct Mix {
    /// Heartbeat.
    pub heartbeat: u32,
    /// StatusNotification of a connector.
    pub status: u32,
    /// A meter value of the running session (1.6 MeterValues, 2.0.1 TransactionEvent Updated).
    pub meter_values: u32,
    /// Authorize of a token.
    pub authorize: u32,
    /// Stop the running session and start the next (two messages).
    pub transaction: u32,
}

impl Default for Mix {
    fn default() -> Self {
        Mix {
            heartbeat: 10,
            status: 10,
            meter_values: 70,
            authorize: 5,
            transaction: 5,
        }
    }
}

impl Mix {
    /// Parses `heartbeat=10,meter_values=70,...`; names left out weigh 0.
    pub fn parse(text: &str) -> Result<Mix, String> {
        let mut mix = Mix {
            heartbeat: 0,
            status: 0,
            meter_values: 0,
            authorize: 0,
            transaction: 0,
        };
        for part in text.split(',').filter(|p| !p.trim().is_empty()) {
            let (name, weight) = part
                .split_once('=')
                .ok_or_else(|| format!("`{part}`: expected name=weight"))?;
            let weight: u32 = weight
                .trim()
                .parse()
                .map_err(|_| format!("`{part}`: weight must be a whole number"))?;
            match name.trim() {
                "heartbeat" => mix.heartbeat = weight,
                "status" => mix.status = weight,
                "meter_values" | "meter" => mix.meter_values = weight,
                "authorize" => mix.authorize = weight,
                "transaction" => mix.transaction = weight,
                other => return Err(format!("unknown message kind `{other}`")),
            }
        }
        if mix.total() == 0 {
            return Err("the mix has no weight".into());
        }
        Ok(mix)
    }

    /// Sum of the weights.
    pub fn total(&self) -> u32 {
        self.heartbeat + self.status + self.meter_values + self.authorize + self.transaction
    }
}

/// What a load station sends next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MixItem {
    /// Heartbeat.
    Heartbeat,
    /// StatusNotification.
    Status,
    /// Meter value of the running session.
    MeterValues,
    /// Authorize.
    Authorize,
    /// Stop and restart the session.
    Transaction,
}

impl Mix {
    /// The item a roll in `0..total()` falls on.
    pub fn pick(&self, roll: u32) -> MixItem {
        let mut r = roll;
        for (weight, item) in [
            (self.heartbeat, MixItem::Heartbeat),
            (self.status, MixItem::Status),
            (self.meter_values, MixItem::MeterValues),
            (self.authorize, MixItem::Authorize),
            (self.transaction, MixItem::Transaction),
        ] {
            if r < weight {
                return item;
            }
            r -= weight;
        }
        MixItem::Heartbeat
    }
}

/// How a station behaves in a load run.
#[derive(Debug, Clone)]
pub struct LoadPlan {
    /// The message mix.
    pub mix: Mix,
    /// Seconds between two messages of one station; 0: the next as soon as the last is answered.
    pub interval_s: f64,
    /// Tokens for Authorize and transactions.
    pub id_token: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_a_mix() {
        let mix = Mix::parse("heartbeat=1,meter=3").expect("valid");
        assert_eq!(mix.total(), 4);
        assert_eq!(mix.pick(0), MixItem::Heartbeat);
        assert_eq!(mix.pick(3), MixItem::MeterValues);
        assert!(Mix::parse("bogus=1").is_err());
        assert!(Mix::parse("heartbeat=0").is_err());
    }
}
