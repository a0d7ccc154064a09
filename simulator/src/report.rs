//! The final report of a run: what connected, what was sent and answered, how fast, what failed.
//! Rendered as a table for people or as JSON (`--json`) for machines.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::atomic::Ordering;

use serde::Serialize;

use crate::metrics::{ActionReport, Metrics};

/// Figures of one run.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// `run <scenario>`, `load` or `connect`.
    pub mode: String,
    /// Stations in the fleet.
    pub stations: u32,
    /// Websockets open at the end of the measured window.
    pub connections_held: u64,
    /// Successful handshakes (including reconnections).
    pub connections_established: u64,
    /// Failed connection attempts.
    pub connections_failed: u64,
    /// Reconnections after drops, offline periods and resets.
    pub reconnects: u64,
    /// Length of the measured window (s).
    pub window_s: f64,
    /// Answers received in the window.
    pub answers_in_window: u64,
    /// Answers per second in the window.
    pub messages_per_s: f64,
    /// CALLs sent over the whole run.
    pub calls_sent: u64,
    /// Per action: answers and round-trip percentiles (whole run).
    pub actions: Vec<ActionReport>,
    /// All actions together: p50 / p95 / p99 / max round trip (ms).
    pub overall_ms: [f64; 4],
    /// CALLERRORs by code.
    pub call_errors: BTreeMap<String, u64>,
    /// Calls the CSMS sent to stations, by action.
    pub csms_calls: BTreeMap<String, u64>,
    /// Charging sessions completed.
    pub sessions: usize,
    /// Energy of those sessions (Wh).
    pub energy_wh: u64,
    /// Notable events (first 50).
    pub notes: Vec<String>,
}

impl Report {
    /// Collects a report from `metrics`; `window_s` and `answers_in_window` describe the measured
    /// window.
    pub fn collect(
        mode: &str,
        stations: u32,
        metrics: &Metrics,
        window_s: f64,
        answers_in_window: u64,
    ) -> Report {
        let sessions = metrics.sessions();
        let (p50, p95, p99, max) = metrics.overall();
        Report {
            mode: mode.to_owned(),
            stations,
            connections_held: metrics.connected.load(Ordering::Relaxed),
            connections_established: metrics.connects.load(Ordering::Relaxed),
            connections_failed: metrics.connect_failures.load(Ordering::Relaxed),
            reconnects: metrics.reconnects.load(Ordering::Relaxed),
            window_s,
            answers_in_window,
            messages_per_s: if window_s > 0.0 {
                answers_in_window as f64 / window_s
            } else {
                0.0
            },
            calls_sent: metrics.calls_sent.load(Ordering::Relaxed),
            actions: metrics.actions(),
            overall_ms: [p50, p95, p99, max],
            call_errors: metrics.call_errors(),
            csms_calls: metrics.csms_calls(),
            sessions: sessions.len(),
            energy_wh: sessions.iter().map(|s| s.energy_wh()).sum(),
            notes: metrics.notes(),
        }
    }

    /// A table for a terminal.
    pub fn render(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(out, "== {} ==", self.mode);
        let _ = writeln!(
            out,
            "stations {}  held {}  established {}  failed {}  reconnects {}",
            self.stations,
            self.connections_held,
            self.connections_established,
            self.connections_failed,
            self.reconnects
        );
        let _ = writeln!(
            out,
            "window {:.1} s  answers {}  throughput {:.0} msg/s  calls sent {}",
            self.window_s, self.answers_in_window, self.messages_per_s, self.calls_sent
        );
        let _ = writeln!(
            out,
            "{:<22} {:>9} {:>7} {:>9} {:>9} {:>9} {:>9}",
            "action", "results", "errors", "p50 ms", "p95 ms", "p99 ms", "max ms"
        );
        for a in &self.actions {
            let _ = writeln!(
                out,
                "{:<22} {:>9} {:>7} {:>9.2} {:>9.2} {:>9.2} {:>9.2}",
                a.action, a.results, a.errors, a.p50_ms, a.p95_ms, a.p99_ms, a.max_ms
            );
        }
        let [p50, p95, p99, max] = self.overall_ms;
        let _ = writeln!(
            out,
            "{:<22} {:>9} {:>7} {:>9.2} {:>9.2} {:>9.2} {:>9.2}",
            "all", "", "", p50, p95, p99, max
        );
        if !self.call_errors.is_empty() {
            let _ = writeln!(out, "CALLERRORs: {:?}", self.call_errors);
        }
        if !self.csms_calls.is_empty() {
            let _ = writeln!(out, "CSMS calls answered: {:?}", self.csms_calls);
        }
        let _ = writeln!(
            out,
            "sessions completed {}  energy {} Wh",
            self.sessions, self.energy_wh
        );
        for note in &self.notes {
            let _ = writeln!(out, "note: {note}");
        }
        out
    }
}
