//! Load runs: ramp up to N connections at a given rate, hold them for a while sending a chosen
//! message mix, and measure every CALL → answer round trip. A progress bar shows the ramp and the
//! hold; the report covers the hold window.

use std::sync::atomic::Ordering;
use std::time::Duration;

use anyhow::Result;
use indicatif::{ProgressBar, ProgressStyle};
use tokio::time::Instant;

use crate::fleet::{Fleet, FleetOptions};
use crate::plan::{Behaviour, LoadPlan, Mix};
use crate::report::Report;

/// A load run.
#[derive(Debug, Clone)]
pub struct LoadOptions {
    /// The fleet (its `ramp_per_s` is the ramp rate).
    pub fleet: FleetOptions,
    /// Seconds to hold all connections after the ramp.
    pub hold_s: f64,
    /// Messages per second over the whole fleet during the hold (0: every station sends its next
    /// CALL as soon as the last is answered).
    pub rate: f64,
    /// Message mix.
    pub mix: Mix,
    /// Token used for Authorize and transactions.
    pub id_token: String,
    /// Seconds the ramp may take beyond its nominal length before the hold starts anyway.
    pub ramp_grace_s: f64,
    /// Show a progress bar (on stderr).
    pub progress: bool,
}

/// Runs a load test and reports on the hold window.
pub async fn run(options: &LoadOptions) -> Result<Report> {
    let stations = options.fleet.stations;
    let interval_s = if options.rate > 0.0 {
        f64::from(stations) / options.rate
    } else {
        0.0
    };
    let plan = LoadPlan {
        mix: options.mix.clone(),
        interval_s,
        id_token: options.id_token.clone(),
    };
    let behaviour = Behaviour {
        // Heartbeats come from the mix; the station's own timer stays out of the way.
        heartbeat_s: 86_400,
        reconnect_delay_s: 1.0,
        ..Behaviour::default()
    };
    let mut fleet_options = options.fleet.clone();
    fleet_options.speed = 1.0;
    let fleet = Fleet::start(&fleet_options, &behaviour, Some(plan))?;
    let metrics = fleet.metrics.clone();

    let bar = if options.progress {
        let bar = ProgressBar::new(u64::from(stations));
        bar.set_style(
            ProgressStyle::with_template(
                "{spinner} {prefix:>5} [{bar:30}] {pos}/{len} connected {msg}",
            )
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
        );
        bar
    } else {
        ProgressBar::hidden()
    };

    // Ramp: until every station is connected and through its start-up messages (the boot storm
    // is over), or the nominal ramp time plus the grace is over.
    bar.set_prefix("ramp");
    let ramp_s = if options.fleet.ramp_per_s > 0.0 {
        f64::from(stations) / options.fleet.ramp_per_s
    } else {
        0.0
    };
    let ramp_deadline = Instant::now() + Duration::from_secs_f64(ramp_s + options.ramp_grace_s);
    let mut tick = tokio::time::interval(Duration::from_millis(200));
    loop {
        tick.tick().await;
        let connected = metrics.connected.load(Ordering::Relaxed);
        bar.set_position(connected);
        let ready = metrics.ready.load(Ordering::Relaxed);
        bar.set_message(format!(
            "{ready} started up, {} answers, {} failed",
            metrics.answers.load(Ordering::Relaxed),
            metrics.connect_failures.load(Ordering::Relaxed)
        ));
        if ready >= u64::from(stations) || Instant::now() >= ramp_deadline {
            break;
        }
    }

    // Hold: the measured window.
    bar.set_prefix("hold");
    metrics.start_window();
    let start_answers = metrics.answers.load(Ordering::Relaxed);
    let hold_start = Instant::now();
    let hold_end = hold_start + Duration::from_secs_f64(options.hold_s);
    let mut last = (hold_start, start_answers);
    while Instant::now() < hold_end {
        tick.tick().await;
        let now = Instant::now();
        let answers = metrics.answers.load(Ordering::Relaxed);
        let rate = (answers - last.1) as f64 / (now - last.0).as_secs_f64().max(0.001);
        last = (now, answers);
        bar.set_position(metrics.connected.load(Ordering::Relaxed));
        bar.set_message(format!(
            "{rate:>7.0} msg/s, {:.0} s left",
            (hold_end - now).as_secs_f64()
        ));
    }
    let window = hold_start.elapsed().as_secs_f64();
    let in_window = metrics.answers.load(Ordering::Relaxed) - start_answers;
    let report = Report::collect("load", stations, &metrics, window, in_window);
    bar.finish_and_clear();
    fleet.stop(Duration::from_secs(10)).await;
    Ok(report)
}
