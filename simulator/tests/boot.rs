//! Boot as firmware does it: Basic auth on the handshake, and a station the CPMS holds Pending
//! asks again after the interval it was given, until the operator accepts it.

mod common;

use std::sync::atomic::Ordering;
use std::time::Duration;

use common::{databases, poll, Cpms};
use serde_json::json;
use simulator::fleet::{Fleet, FleetOptions, ProtocolChoice};
use simulator::plan::Behaviour;

fn options(cpms: &Cpms, password: &str, protocol: ProtocolChoice) -> FleetOptions {
    FleetOptions {
        url: cpms.ocpp_url(),
        id_pattern: "SIM-BOOT-{n}".into(),
        first: 1,
        stations: 1,
        evses: 1,
        connectors_per_evse: 1,
        protocol,
        password: Some(password.into()),
        tls: None,
        ramp_per_s: 0.0,
        speed: 1.0,
    }
}

#[tokio::test]
async fn a_pending_station_retries_its_boot_until_accepted() {
    for db in databases().await {
        let cpms = Cpms::start_with(&db, |s| s.ocpp.boot_retry_interval = 1)
            .await
            .expect("cpms starts");
        cpms.add_station(json!({"id": "SIM-BOOT-1", "password": "sim-password-0001", "registration_status": "Pending"}))
            .await;

        // A wrong password is refused at the handshake.
        let behaviour = Behaviour {
            reconnect_delay_s: 0.5,
            ..Behaviour::default()
        };
        let wrong = Fleet::start(
            &options(&cpms, "not-the-password", ProtocolChoice::V16),
            &behaviour,
            None,
        )
        .expect("fleet");
        poll(|| async {
            Ok((wrong.metrics.connect_failures.load(Ordering::Relaxed) > 0).then_some(()))
        })
        .await
        .expect("refused");
        assert_eq!(wrong.metrics.connects.load(Ordering::Relaxed), 0);
        wrong.stop(Duration::from_secs(5)).await;

        let fleet = Fleet::start(
            &options(&cpms, "sim-password-0001", ProtocolChoice::V16),
            &behaviour,
            None,
        )
        .expect("fleet");
        // Pending: booted at least twice (the retry after the 1 s interval), no status yet.
        poll(|| async {
            let boots = fleet
                .metrics
                .actions()
                .iter()
                .find(|a| a.action == "BootNotification")
                .map_or(0, |a| a.results);
            Ok((boots >= 2).then_some(()))
        })
        .await
        .expect("boot retried");
        assert!(
            !fleet
                .metrics
                .actions()
                .iter()
                .any(|a| a.action == "StatusNotification"),
            "a Pending station sends nothing but boots"
        );

        let (status, body) = cpms
            .api(
                "PATCH",
                "/api/stations/SIM-BOOT-1",
                Some(json!({"registration_status": "Accepted"})),
            )
            .await
            .expect("api");
        assert_eq!(status, 200, "{body}");
        // The next retry is accepted and the station reports its connector.
        poll(|| async {
            let (_, connectors) = cpms
                .api("GET", "/api/stations/SIM-BOOT-1/connectors", None)
                .await?;
            let reported = connectors
                .as_array()
                .is_some_and(|c| c.iter().any(|c| c["status"] == "Available"));
            Ok(reported.then_some(()))
        })
        .await
        .unwrap_or_else(|e| panic!("[{}] never accepted: {e}", db.label));
        fleet.stop(Duration::from_secs(5)).await;
        cpms.stop().await;
    }
}
