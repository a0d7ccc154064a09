//! Each scenario of `simulator/scenarios/` run briefly (time sped up) against the real CPMS; the
//! CPMS must then hold exactly the transactions and energy the simulated stations produced.

mod common;

use common::{databases, scenario, Cpms};

/// Runs `name` with its time sped up by `speed_factor` and fewer stations, and checks the CPMS.
async fn run_and_check(name: &str, stations: u32, speed: f64, prefix: &str) {
    for db in databases().await {
        let cpms = Cpms::start_with_tokens(&db, &["SIM-TOKEN-1", "SIM-TOKEN-2"]).await;
        let mut s = scenario(name);
        s.stations = stations;
        s.speed = speed;
        s.ramp_per_s = 0.0;
        s.timeout_s = 60.0;
        let outcome = s.run(&cpms.ocpp_url(), None, None).await.expect("runs");
        assert!(
            outcome.completed,
            "[{}] {name} did not complete: {}",
            db.label,
            outcome.report.render()
        );
        assert!(!outcome.sessions.is_empty(), "[{}] no sessions", db.label);
        cpms.expect_transactions(prefix, &outcome.sessions)
            .await
            .unwrap_or_else(|e| panic!("[{}] {name}: {e}", db.label));
        check_report(name, &outcome);
        cpms.stop().await;
    }
}

fn check_report(name: &str, outcome: &simulator::scenario::Outcome) {
    let r = &outcome.report;
    assert_eq!(r.connections_failed, 0, "{name}: {}", r.render());
    match name {
        "faults" => {
            // Each station dropped once mid-session and came back.
            assert!(r.reconnects >= r.stations as u64, "{}", r.render());
            // The malformed frame was refused with a CALLERROR, nothing else was.
            let errors: u64 = r.call_errors.values().sum();
            assert_eq!(errors, r.stations as u64, "{}", r.render());
            assert!(
                outcome.sessions.iter().any(|s| s.stop_reason == "Other"),
                "the Faulted connector stopped its session"
            );
        }
        "offline_replay" => {
            assert_eq!(r.reconnects, 1, "{}", r.render());
            assert!(r.call_errors.is_empty(), "{}", r.render());
        }
        _ => assert!(r.call_errors.is_empty(), "{name}: {}", r.render()),
    }
}

#[tokio::test]
async fn steady_sessions_are_stored_exactly() {
    run_and_check("steady", 2, 1200.0, "SIM-STEADY-").await;
}

#[tokio::test]
async fn v201_transaction_events_are_stored_exactly() {
    run_and_check("v201", 2, 1200.0, "SIM-V201-").await;
}

#[tokio::test]
async fn offline_replay_leaves_exactly_the_transactions_and_energy() {
    for db in databases().await {
        let cpms = Cpms::start_with_tokens(&db, &["SIM-TOKEN-1"]).await;
        let mut s = scenario("offline_replay");
        s.speed = 600.0;
        s.timeout_s = 60.0;
        let outcome = s.run(&cpms.ocpp_url(), None, None).await.expect("runs");
        assert!(
            outcome.completed,
            "[{}] {}",
            db.label,
            outcome.report.render()
        );
        // Two sessions of 600 s at up to 11 kW: one ended offline, one ran entirely offline.
        assert_eq!(outcome.sessions.len(), 2, "{:?}", outcome.sessions);
        let curve = s.station.curve();
        let expected_energy: u64 = (1..=10)
            .map(|k| {
                simulator::charging::energy_wh(curve.power_at(60.0 * f64::from(k), 600.0), 60.0)
            })
            .sum();
        for session in &outcome.sessions {
            assert_eq!(session.energy_wh(), expected_energy, "{session:?}");
            assert_eq!(session.stop_reason, "EVDisconnected");
        }
        assert_eq!(
            outcome.sessions[1].meter_start_wh, outcome.sessions[0].meter_stop_wh,
            "the register carries on between sessions"
        );
        cpms.expect_transactions("SIM-OFFLINE-", &outcome.sessions)
            .await
            .unwrap_or_else(|e| panic!("[{}] {e}", db.label));
        check_report("offline_replay", &outcome);
        cpms.stop().await;
    }
}

#[tokio::test]
async fn faults_leave_consistent_transactions() {
    run_and_check("faults", 2, 600.0, "SIM-FAULT-").await;
}

#[tokio::test]
async fn mixed_fleet_scenario_is_stored_exactly() {
    run_and_check("load", 6, 1200.0, "SIM-LOAD-").await;
}
