//! What a fleet run observed: per-action round trips, CALLERRORs, connections, and the ledger of
//! charging sessions the stations ran (what the CSMS should now hold).

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use hdrhistogram::Histogram;
use serde::Serialize;

/// Counters shared by all stations of a run. Locks are held only to update a map, never across
/// an await.
#[derive(Debug)]
pub struct Metrics {
    /// Stations whose websocket is open right now.
    pub connected: AtomicU64,
    /// Successful websocket handshakes (first connections and reconnections).
    pub connects: AtomicU64,
    /// Failed connection attempts.
    pub connect_failures: AtomicU64,
    /// Connections opened again after a drop, an offline period or a reset.
    pub reconnects: AtomicU64,
    /// Load stations that finished start-up (boot, status, first transaction) and now send the
    /// mix: the hold of a load run starts when all are.
    pub ready: AtomicU64,
    /// CALLs sent by stations.
    pub calls_sent: AtomicU64,
    /// Answers received to them.
    pub answers: AtomicU64,
    inner: Mutex<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    actions: BTreeMap<String, ActionStats>,
    call_errors: BTreeMap<String, u64>,
    csms_calls: BTreeMap<String, u64>,
    sessions: Vec<SessionRecord>,
    notes: Vec<String>,
}

#[derive(Debug)]
struct ActionStats {
    results: u64,
    errors: u64,
    latency_us: Histogram<u64>,
}

impl Default for ActionStats {
    fn default() -> Self {
        ActionStats {
            results: 0,
            errors: 0,
            // One microsecond to one hour at three significant digits.
            latency_us: Histogram::new_with_bounds(1, 3_600_000_000, 3)
                .expect("static histogram bounds are valid"),
        }
    }
}

/// One charging session as the station ran it: the figures the CSMS must end up with.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct SessionRecord {
    /// Station id.
    pub station_id: String,
    /// EVSE (1-based).
    pub evse_id: u32,
    /// Connector within the EVSE (1-based).
    pub connector_id: u32,
    /// Token that started it.
    pub id_token: String,
    /// Register at start (Wh).
    pub meter_start_wh: u64,
    /// Register at stop (Wh).
    pub meter_stop_wh: u64,
    /// Stop reason as sent (1.6 reason or 2.0.1 stoppedReason).
    pub stop_reason: String,
    /// The 2.0.1 transactionId the station chose.
    pub station_transaction_id: Option<String>,
    /// Whether the CSMS accepted the token (false: the station stopped it as DeAuthorized).
    pub authorized: bool,
}

impl SessionRecord {
    /// Energy delivered (Wh).
    pub fn energy_wh(&self) -> u64 {
        self.meter_stop_wh.saturating_sub(self.meter_start_wh)
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics {
            connected: AtomicU64::new(0),
            connects: AtomicU64::new(0),
            connect_failures: AtomicU64::new(0),
            reconnects: AtomicU64::new(0),
            ready: AtomicU64::new(0),
            calls_sent: AtomicU64::new(0),
            answers: AtomicU64::new(0),
            inner: Mutex::new(Inner::default()),
        }
    }
}

impl Metrics {
    fn with<R>(&self, f: impl FnOnce(&mut Inner) -> R) -> R {
        // A panic elsewhere while holding the lock leaves plain counters; keep counting.
        let mut guard = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        f(&mut guard)
    }

    /// A CALLRESULT for `action` arrived `elapsed` after its CALL was sent.
    pub fn result(&self, action: &str, elapsed: Duration) {
        self.answers.fetch_add(1, Ordering::Relaxed);
        self.with(|m| {
            let stats = m.actions.entry(action.to_owned()).or_default();
            stats.results += 1;
            let _ = stats.latency_us.record((elapsed.as_micros() as u64).max(1));
        });
    }

    /// A CALLERROR with `code` answered a CALL for `action` (None: for no CALL we had sent, e.g.
    /// a malformed frame).
    pub fn call_error(&self, action: Option<&str>, code: &str, elapsed: Duration) {
        self.answers.fetch_add(1, Ordering::Relaxed);
        self.with(|m| {
            *m.call_errors.entry(code.to_owned()).or_default() += 1;
            if let Some(action) = action {
                let stats = m.actions.entry(action.to_owned()).or_default();
                stats.errors += 1;
                let _ = stats.latency_us.record((elapsed.as_micros() as u64).max(1));
            }
        });
    }

    /// Starts a measured window: forgets the per-action figures so far (the ramp's boot storm),
    /// keeping the counters, CALLERRORs by code and the session ledger.
    pub fn start_window(&self) {
        self.with(|m| m.actions.clear());
    }

    /// The CSMS sent `action` to a station.
    pub fn csms_call(&self, action: &str) {
        self.with(|m| *m.csms_calls.entry(action.to_owned()).or_default() += 1);
    }

    /// A station finished a charging session.
    pub fn session(&self, record: SessionRecord) {
        self.with(|m| m.sessions.push(record));
    }

    /// Something worth telling the operator once (a failed boot, a refused connection).
    pub fn note(&self, text: String) {
        self.with(|m| {
            if m.notes.len() < 50 && !m.notes.contains(&text) {
                m.notes.push(text);
            }
        });
    }

    /// Sessions finished so far.
    pub fn sessions(&self) -> Vec<SessionRecord> {
        self.with(|m| m.sessions.clone())
    }

    /// Per-action figures so far.
    pub fn actions(&self) -> Vec<ActionReport> {
        self.with(|m| {
            m.actions
                .iter()
                .map(|(action, s)| {
                    let h = &s.latency_us;
                    let ms = |q: f64| h.value_at_quantile(q) as f64 / 1000.0;
                    ActionReport {
                        action: action.clone(),
                        results: s.results,
                        errors: s.errors,
                        p50_ms: ms(0.50),
                        p95_ms: ms(0.95),
                        p99_ms: ms(0.99),
                        max_ms: h.max() as f64 / 1000.0,
                    }
                })
                .collect()
        })
    }

    /// Overall latency percentiles over every action: (p50, p95, p99, max) in ms.
    pub fn overall(&self) -> (f64, f64, f64, f64) {
        self.with(|m| {
            let mut all = Histogram::<u64>::new_with_bounds(1, 3_600_000_000, 3)
                .expect("static histogram bounds are valid");
            for s in m.actions.values() {
                let _ = all.add(&s.latency_us);
            }
            let ms = |q: f64| all.value_at_quantile(q) as f64 / 1000.0;
            (ms(0.5), ms(0.95), ms(0.99), all.max() as f64 / 1000.0)
        })
    }

    /// CALLERRORs by code.
    pub fn call_errors(&self) -> BTreeMap<String, u64> {
        self.with(|m| m.call_errors.clone())
    }

    /// CSMS-initiated calls by action.
    pub fn csms_calls(&self) -> BTreeMap<String, u64> {
        self.with(|m| m.csms_calls.clone())
    }

    /// Notes collected.
    pub fn notes(&self) -> Vec<String> {
        self.with(|m| m.notes.clone())
    }
}

/// Figures for one action.
#[derive(Debug, Clone, Serialize)]
pub struct ActionReport {
    /// OCPP action.
    pub action: String,
    /// CALLRESULTs received.
    pub results: u64,
    /// CALLERRORs received.
    pub errors: u64,
    /// Median round trip (ms).
    pub p50_ms: f64,
    /// 95th percentile (ms).
    pub p95_ms: f64,
    /// 99th percentile (ms).
    pub p99_ms: f64,
    /// Slowest (ms).
    pub max_ms: f64,
}
