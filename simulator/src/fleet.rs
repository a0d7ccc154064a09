//! A fleet: N stations with ids from a pattern, started at a given rate against one CSMS URL, and
//! stopped together.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use serde::{Deserialize, Serialize};
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;

use crate::clock::SimClock;
use crate::metrics::Metrics;
use crate::plan::{Behaviour, LoadPlan};
use crate::station::{Protocol, Station, StationEvent, StationSpec};

/// Which versions a fleet speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
pub enum ProtocolChoice {
    /// All stations OCPP 1.6J.
    #[serde(rename = "ocpp1.6")]
    #[value(name = "ocpp1.6")]
    V16,
    /// All stations OCPP 2.0.1.
    #[serde(rename = "ocpp2.0.1")]
    #[value(name = "ocpp2.0.1")]
    V201,
    /// Alternating: odd stations 1.6J, even stations 2.0.1.
    #[serde(rename = "mix")]
    #[value(name = "mix")]
    Mix,
}

impl ProtocolChoice {
    /// The version of station number `n` (1-based).
    pub fn for_station(self, n: u32) -> Protocol {
        match self {
            ProtocolChoice::V16 => Protocol::V16,
            ProtocolChoice::V201 => Protocol::V201,
            ProtocolChoice::Mix if n % 2 == 1 => Protocol::V16,
            ProtocolChoice::Mix => Protocol::V201,
        }
    }
}

/// Who the fleet is and where it connects.
#[derive(Debug, Clone)]
pub struct FleetOptions {
    /// CSMS websocket base URL; the station id is appended as the last path segment.
    pub url: String,
    /// Station id pattern: `{n}` or `{n:05}` is replaced by the station number (from 1).
    pub id_pattern: String,
    /// Number of the first station.
    pub first: u32,
    /// Stations.
    pub stations: u32,
    /// EVSEs per station.
    pub evses: u32,
    /// Connectors per EVSE.
    pub connectors_per_evse: u32,
    /// Versions.
    pub protocol: ProtocolChoice,
    /// Basic-auth password.
    pub password: Option<String>,
    /// TLS client configuration (`wss://`).
    pub tls: Option<Arc<rustls::ClientConfig>>,
    /// New connections per second while ramping up (0: all at once).
    pub ramp_per_s: f64,
    /// Simulated time speed.
    pub speed: f64,
}

/// The running fleet.
pub struct Fleet {
    /// Shared counters.
    pub metrics: Arc<Metrics>,
    /// Station events (Done).
    pub events: mpsc::UnboundedReceiver<StationEvent>,
    shutdown: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
    /// The station ids, in order.
    pub ids: Vec<String>,
}

/// Expands `{n}` / `{n:0W}` in an id pattern.
pub fn station_id(pattern: &str, n: u32) -> Result<String> {
    let Some(start) = pattern.find("{n") else {
        bail!("the id pattern `{pattern}` has no {{n}}");
    };
    let Some(len) = pattern[start..].find('}') else {
        bail!("unclosed {{ in id pattern `{pattern}`");
    };
    let spec = &pattern[start + 2..start + len];
    let number = match spec.strip_prefix(":0").or_else(|| spec.strip_prefix(':')) {
        Some(width) => {
            let width: usize = width
                .parse()
                .with_context(|| format!("bad width in id pattern `{pattern}`"))?;
            format!("{n:0width$}")
        }
        None if spec.is_empty() => n.to_string(),
        None => bail!("unknown placeholder in id pattern `{pattern}`"),
    };
    Ok(format!(
        "{}{}{}",
        &pattern[..start],
        number,
        &pattern[start + len + 1..]
    ))
}

/// A TLS client configuration trusting the web PKI roots and, when given, the CAs of a PEM file
/// (for a CSMS with a private CA).
pub fn tls_config(ca_file: Option<&Path>) -> Result<Arc<rustls::ClientConfig>> {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::CertificateDer;
    let mut roots = rustls::RootCertStore::empty();
    roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    if let Some(path) = ca_file {
        for cert in CertificateDer::pem_file_iter(path)
            .with_context(|| format!("reading {}", path.display()))?
        {
            roots
                .add(cert.with_context(|| format!("parsing {}", path.display()))?)
                .context("adding a CA certificate")?;
        }
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .context("TLS protocol versions")?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(Arc::new(config))
}

impl Fleet {
    /// Starts the fleet; stations are spawned at `ramp_per_s` in the background.
    pub fn start(
        options: &FleetOptions,
        behaviour: &Behaviour,
        load: Option<LoadPlan>,
    ) -> Result<Fleet> {
        let metrics = Arc::new(Metrics::default());
        let (shutdown, shutdown_rx) = watch::channel(false);
        let (events_tx, events) = mpsc::unbounded_channel();
        let clock = SimClock::new(options.speed);
        let base = options.url.trim_end_matches('/').to_owned();
        let mut ids = Vec::new();
        let mut specs = Vec::new();
        for k in 0..options.stations {
            let n = options.first + k;
            let id = station_id(&options.id_pattern, n)?;
            ids.push(id.clone());
            specs.push(StationSpec {
                url: format!("{base}/{id}"),
                id,
                index: n,
                protocol: options.protocol.for_station(n),
                password: options.password.clone(),
                tls: options.tls.clone(),
                evses: options.evses,
                connectors_per_evse: options.connectors_per_evse,
                behaviour: behaviour.clone(),
                load: load.clone(),
            });
        }
        let mut tasks = Vec::new();
        let ramp = options.ramp_per_s;
        let m = metrics.clone();
        let stop = shutdown_rx.clone();
        // The ramp runs in its own task so the caller can show progress meanwhile; each station
        // is its own task.
        let (spawned_tx, mut spawned_rx) = mpsc::unbounded_channel();
        tasks.push(tokio::spawn(async move {
            let start = tokio::time::Instant::now();
            for (k, spec) in specs.into_iter().enumerate() {
                if *stop.borrow() {
                    break;
                }
                if ramp > 0.0 {
                    let at = start + Duration::from_secs_f64(k as f64 / ramp);
                    tokio::time::sleep_until(at).await;
                }
                let station = Station::new(
                    spec,
                    clock,
                    m.clone(),
                    stop.clone(),
                    Some(events_tx.clone()),
                );
                let _ = spawned_tx.send(tokio::spawn(station.run()));
            }
        }));
        let collector = tokio::spawn(async move {
            let mut handles = Vec::new();
            while let Some(h) = spawned_rx.recv().await {
                handles.push(h);
            }
            for h in handles {
                let _ = h.await;
            }
        });
        tasks.push(collector);
        Ok(Fleet {
            metrics,
            events,
            shutdown,
            tasks,
            ids,
        })
    }

    /// Stops every station (closing its websocket) and waits for them, at most `grace`.
    pub async fn stop(self, grace: Duration) {
        let _ = self.shutdown.send(true);
        let all = futures_util::future::join_all(self.tasks);
        let _ = tokio::time::timeout(grace, all).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expands_id_patterns() {
        assert_eq!(station_id("SIM-{n:05}", 42).expect("valid"), "SIM-00042");
        assert_eq!(station_id("CP{n}-A", 7).expect("valid"), "CP7-A");
        assert!(station_id("nope", 1).is_err());
    }
}
