//! Load mode against the real CPMS and against the echo server: every connection is held, every
//! CALL answered, and the report adds up.

mod common;

use common::{databases, Cpms};
use simulator::echo::EchoServer;
use simulator::fleet::{FleetOptions, ProtocolChoice};
use simulator::load::{self, LoadOptions};
use simulator::plan::Mix;

fn options(url: String, prefix: &str) -> LoadOptions {
    LoadOptions {
        fleet: FleetOptions {
            url,
            id_pattern: format!("{prefix}{{n:04}}"),
            first: 1,
            stations: 20,
            evses: 1,
            connectors_per_evse: 1,
            protocol: ProtocolChoice::Mix,
            password: None,
            tls: None,
            ramp_per_s: 200.0,
            speed: 1.0,
        },
        hold_s: 1.5,
        rate: 0.0,
        mix: Mix::default(),
        id_token: "SIM-TOKEN-1".into(),
        ramp_grace_s: 20.0,
        progress: false,
    }
}

#[tokio::test]
async fn a_load_run_holds_every_connection_and_measures_round_trips() {
    for db in databases().await {
        let cpms = Cpms::start_with_tokens(&db, &["SIM-TOKEN-1"]).await;
        let report = load::run(&options(cpms.ocpp_url(), "SIM-LD-"))
            .await
            .expect("load run");
        assert_eq!(
            report.connections_held,
            20,
            "[{}] {}",
            db.label,
            report.render()
        );
        assert_eq!(report.connections_failed, 0, "{}", report.render());
        assert!(report.call_errors.is_empty(), "{}", report.render());
        assert!(report.answers_in_window > 0, "{}", report.render());
        // The per-action figures cover the hold: the answers counted there, with ordered
        // percentiles.
        let counted: u64 = report.actions.iter().map(|a| a.results + a.errors).sum();
        assert!(counted >= report.answers_in_window, "{}", report.render());
        for a in &report.actions {
            assert!(
                a.p50_ms > 0.0 && a.p50_ms <= a.p99_ms && a.p99_ms <= a.max_ms,
                "{}",
                report.render()
            );
        }
        assert!(
            report
                .actions
                .iter()
                .any(|a| a.action == "MeterValues" || a.action == "TransactionEvent"),
            "the mix is mostly meter values: {}",
            report.render()
        );
        cpms.stop().await;
    }
}

#[tokio::test]
async fn the_echo_server_answers_every_call() {
    let echo = EchoServer::start("127.0.0.1:0", 300)
        .await
        .expect("echo starts");
    let report = load::run(&options(format!("ws://{}/ocpp", echo.addr), "ECHO-"))
        .await
        .expect("load run");
    assert_eq!(report.connections_held, 20, "{}", report.render());
    assert!(report.call_errors.is_empty(), "{}", report.render());
    assert!(report.answers_in_window > 0);
    echo.stop();
}
