//! Scenarios: a fleet and its conduct in a TOML file (`simulator/scenarios/*.toml`), run until
//! every station has finished its planned sessions and delivered every queued message.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};

use crate::fleet::{Fleet, FleetOptions, ProtocolChoice};
use crate::metrics::SessionRecord;
use crate::plan::Behaviour;
use crate::report::Report;
use crate::station::StationEvent;

/// A scenario file.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    /// Short name.
    pub name: String,
    /// What it shows.
    #[serde(default)]
    pub description: String,
    /// Versions spoken.
    #[serde(default = "default_protocol")]
    pub protocol: ProtocolChoice,
    /// Stations.
    #[serde(default = "one")]
    pub stations: u32,
    /// EVSEs per station.
    #[serde(default = "one")]
    pub evses: u32,
    /// Connectors per EVSE.
    #[serde(default = "one")]
    pub connectors_per_evse: u32,
    /// Station id pattern.
    #[serde(default = "default_pattern")]
    pub id_pattern: String,
    /// Simulated seconds per real second.
    #[serde(default = "one_f")]
    pub speed: f64,
    /// New connections per real second.
    #[serde(default)]
    pub ramp_per_s: f64,
    /// Real seconds after which the run is cut short.
    #[serde(default = "default_timeout")]
    pub timeout_s: f64,
    /// What each station does.
    #[serde(default)]
    pub station: Behaviour,
}

fn default_protocol() -> ProtocolChoice {
    ProtocolChoice::V16
}
fn one() -> u32 {
    1
}
fn one_f() -> f64 {
    1.0
}
fn default_pattern() -> String {
    "SIM-{n:05}".into()
}
fn default_timeout() -> f64 {
    600.0
}

/// What a scenario run left behind.
#[derive(Debug, Clone)]
pub struct Outcome {
    /// Every station finished before the timeout.
    pub completed: bool,
    /// Sessions the stations ran (what the CSMS must hold).
    pub sessions: Vec<SessionRecord>,
    /// The run's figures.
    pub report: Report,
}

impl Scenario {
    /// Reads a scenario file.
    pub fn load(path: &Path) -> Result<Scenario> {
        let text =
            std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        toml::from_str(&text).with_context(|| format!("parsing {}", path.display()))
    }

    /// Runs the scenario against `url` (e.g. `ws://127.0.0.1:9000/ocpp`).
    pub async fn run(
        &self,
        url: &str,
        password: Option<String>,
        tls: Option<Arc<rustls::ClientConfig>>,
    ) -> Result<Outcome> {
        let options = FleetOptions {
            url: url.to_owned(),
            id_pattern: self.id_pattern.clone(),
            first: 1,
            stations: self.stations,
            evses: self.evses,
            connectors_per_evse: self.connectors_per_evse,
            protocol: self.protocol,
            password,
            tls,
            ramp_per_s: self.ramp_per_s,
            speed: self.speed,
        };
        let started = tokio::time::Instant::now();
        let mut fleet = Fleet::start(&options, &self.station, None)?;
        let deadline = started + Duration::from_secs_f64(self.timeout_s.max(0.1));
        let mut done = 0;
        let completed = loop {
            if done == self.stations {
                break true;
            }
            match tokio::time::timeout_at(deadline, fleet.events.recv()).await {
                Ok(Some(StationEvent::Done(_))) => done += 1,
                Ok(None) | Err(_) => break false,
            }
        };
        let window = started.elapsed().as_secs_f64();
        let answers = fleet
            .metrics
            .answers
            .load(std::sync::atomic::Ordering::Relaxed);
        let report = Report::collect(
            &format!("run {}", self.name),
            self.stations,
            &fleet.metrics,
            window,
            answers,
        );
        let sessions = fleet.metrics.sessions();
        fleet.stop(Duration::from_secs(5)).await;
        Ok(Outcome {
            completed,
            sessions,
            report,
        })
    }
}
