//! The simulated stations answer the CSMS's commands as firmware would: a remote start runs a
//! real session, a remote stop ends it, configuration and variables come from the station's
//! store, a reset reboots and reconnects. Driven through the operator API of the real CPMS.

mod common;

use std::sync::atomic::Ordering;
use std::time::Duration;

use anyhow::{bail, Result};
use common::{databases, Cpms, WAIT};
use serde_json::{json, Value};
use simulator::fleet::{Fleet, FleetOptions, ProtocolChoice};
use simulator::plan::Behaviour;

fn fleet(cpms: &Cpms, protocol: ProtocolChoice, pattern: &str) -> Fleet {
    let options = FleetOptions {
        url: cpms.ocpp_url(),
        id_pattern: pattern.into(),
        first: 1,
        stations: 1,
        evses: 2,
        connectors_per_evse: 1,
        protocol,
        password: None,
        tls: None,
        ramp_per_s: 0.0,
        speed: 60.0,
    };
    let behaviour = Behaviour {
        meter_interval_s: 60,
        remote_session_s: 36_000.0,
        reconnect_delay_s: 1.0,
        ..Behaviour::default()
    };
    Fleet::start(&options, &behaviour, None).expect("fleet starts")
}

/// Polls `GET /api/stations/{id}` until `connected` is true.
async fn connected(cpms: &Cpms, station: &str) -> Result<()> {
    poll(|| async {
        let (status, body) = cpms
            .api("GET", &format!("/api/stations/{station}"), None)
            .await?;
        Ok((status == 200 && body["connected"] == json!(true)).then_some(()))
    })
    .await
}

/// Polls until `check` yields Some, at most [`WAIT`].
async fn poll<T, F, Fut>(mut check: F) -> Result<T>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<Option<T>>>,
{
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        if let Some(v) = check().await? {
            return Ok(v);
        }
        if tokio::time::Instant::now() > deadline {
            bail!("not reached within {WAIT:?}");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn command(cpms: &Cpms, station: &str, name: &str, body: Value) -> Value {
    let (status, reply) = cpms
        .api(
            "POST",
            &format!("/api/stations/{station}/commands/{name}"),
            Some(body),
        )
        .await
        .expect("api");
    assert_eq!(status, 200, "{name}: {reply}");
    reply
}

async fn transaction_in_state(cpms: &Cpms, station: &str, state: &str) -> Result<Value> {
    poll(|| async {
        let txs = cpms.transactions(station).await?;
        Ok(txs.into_iter().find(|t| t["state"] == state))
    })
    .await
}

#[tokio::test]
async fn a_16_station_obeys_remote_start_stop_configuration_and_reset() {
    for db in databases().await {
        let cpms = Cpms::start(&db).await.expect("cpms starts");
        cpms.accept_tokens(&["SIM-TOKEN-1"]).await.expect("tokens");
        let fleet = fleet(&cpms, ProtocolChoice::V16, "SIM-CMD16-{n}");
        let station = "SIM-CMD16-1";
        connected(&cpms, station).await.expect("connects");

        let reply = command(
            &cpms,
            station,
            "get-configuration",
            json!({"keys": ["HeartbeatInterval", "Nope"]}),
        )
        .await;
        assert!(reply.to_string().contains("HeartbeatInterval"), "{reply}");
        assert!(
            reply.to_string().contains("Nope"),
            "unknown key reported: {reply}"
        );
        let reply = command(
            &cpms,
            station,
            "change-configuration",
            json!({"key": "MeterValueSampleInterval", "value": "30"}),
        )
        .await;
        assert!(reply.to_string().contains("Accepted"), "{reply}");
        let reply = command(
            &cpms,
            station,
            "change-configuration",
            json!({"key": "NumberOfConnectors", "value": "9"}),
        )
        .await;
        assert!(reply.to_string().contains("Rejected"), "read-only: {reply}");

        let reply = command(
            &cpms,
            station,
            "remote-start",
            json!({"id_token": "SIM-TOKEN-1", "evse_id": 2}),
        )
        .await;
        assert!(reply.to_string().contains("Accepted"), "{reply}");
        let tx = transaction_in_state(&cpms, station, "Active")
            .await
            .expect("a session runs");
        assert_eq!(tx["evse_id"], json!(2));
        let id = tx["id"].as_i64().expect("id");
        // The session meters: the register rises while it runs.
        poll(|| async {
            let (_, t) = cpms
                .api("GET", &format!("/api/transactions/{id}"), None)
                .await?;
            Ok((common::number(&t["energy_wh"]) > 0).then_some(()))
        })
        .await
        .expect("energy rises");

        let reply = command(&cpms, station, "remote-stop", json!({"transaction_id": id})).await;
        assert!(reply.to_string().contains("Accepted"), "{reply}");
        let stopped = transaction_in_state(&cpms, station, "Stopped")
            .await
            .expect("stops");
        assert_eq!(stopped["stop_reason"], json!("Remote"));

        let reconnects = fleet.metrics.reconnects.load(Ordering::Relaxed);
        let reply = command(&cpms, station, "reset", json!({"type": "Soft"})).await;
        assert!(reply.to_string().contains("Accepted"), "{reply}");
        poll(|| async {
            Ok((fleet.metrics.reconnects.load(Ordering::Relaxed) > reconnects).then_some(()))
        })
        .await
        .expect("reboots and reconnects");
        connected(&cpms, station).await.expect("back");
        fleet.stop(Duration::from_secs(5)).await;
        cpms.stop().await;
    }
}

#[tokio::test]
async fn a_201_station_obeys_request_start_stop_and_variables() {
    for db in databases().await {
        let cpms = Cpms::start(&db).await.expect("cpms starts");
        cpms.accept_tokens(&["SIM-TOKEN-1"]).await.expect("tokens");
        let fleet = fleet(&cpms, ProtocolChoice::V201, "SIM-CMD201-{n}");
        let station = "SIM-CMD201-1";
        connected(&cpms, station).await.expect("connects");

        let reply = command(
            &cpms,
            station,
            "set-variables",
            json!({"variables": [{"component": "OCPPCommCtrlr", "variable": "HeartbeatInterval", "value": "120"}]}),
        )
        .await;
        assert!(reply.to_string().contains("Accepted"), "{reply}");
        let reply = command(
            &cpms,
            station,
            "get-variables",
            json!({"variables": [{"component": "OCPPCommCtrlr", "variable": "HeartbeatInterval"}, {"component": "Nope", "variable": "X"}]}),
        )
        .await;
        assert!(reply.to_string().contains("120"), "{reply}");
        assert!(reply.to_string().contains("UnknownComponent"), "{reply}");

        let reply = command(
            &cpms,
            station,
            "remote-start",
            json!({"id_token": "SIM-TOKEN-1", "evse_id": 1}),
        )
        .await;
        assert!(reply.to_string().contains("Accepted"), "{reply}");
        let tx = transaction_in_state(&cpms, station, "Active")
            .await
            .expect("a session runs");
        let id = tx["id"].as_i64().expect("id");
        let reply = command(&cpms, station, "remote-stop", json!({"transaction_id": id})).await;
        assert!(reply.to_string().contains("Accepted"), "{reply}");
        let stopped = transaction_in_state(&cpms, station, "Stopped")
            .await
            .expect("stops");
        assert_eq!(stopped["stop_reason"], json!("Remote"));
        assert!(common::number(&stopped["energy_wh"]) >= 0);
        fleet.stop(Duration::from_secs(5)).await;
        cpms.stop().await;
    }
}
