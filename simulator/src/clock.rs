//! Simulated time: scenarios are written in charger seconds, and a speed factor lets a test run an
//! hour of charging in a minute. Timestamps the stations send follow the simulated clock, so the
//! energy they report matches the time they claim it took.

use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio::time::Instant;

/// A clock running `speed` times faster than the wall clock from the moment it was made.
#[derive(Debug, Clone, Copy)]
pub struct SimClock {
    origin_real: Instant,
    origin_wall: DateTime<Utc>,
    speed: f64,
}

impl SimClock {
    /// A clock starting now; `speed` below 0.001 is treated as 0.001.
    pub fn new(speed: f64) -> SimClock {
        SimClock {
            origin_real: Instant::now(),
            origin_wall: Utc::now(),
            speed: speed.max(0.001),
        }
    }

    /// The speed factor.
    pub fn speed(&self) -> f64 {
        self.speed
    }

    /// The simulated wall-clock time now.
    pub fn now(&self) -> DateTime<Utc> {
        let real = self.origin_real.elapsed().as_secs_f64();
        let simulated = chrono::Duration::milliseconds((real * self.speed * 1000.0) as i64);
        self.origin_wall + simulated
    }

    /// The real instant at which `simulated_seconds` of simulated time will have passed from `from`.
    pub fn after(&self, from: Instant, simulated_seconds: f64) -> Instant {
        from + self.real(simulated_seconds)
    }

    /// How long `simulated_seconds` last in real time.
    pub fn real(&self, simulated_seconds: f64) -> Duration {
        Duration::from_secs_f64((simulated_seconds / self.speed).max(0.0))
    }
}

/// OCPP timestamps: RFC 3339, UTC, milliseconds.
pub fn timestamp(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}
