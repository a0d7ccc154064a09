//! The simulated stations answer the CSMS's commands as firmware would: a remote start runs a
//! real session, a remote stop ends it, configuration and variables come from the station's
//! store, a reset reboots and reconnects. Driven through the operator API of the real CPMS.

mod common;

use std::sync::atomic::Ordering;
use std::time::Duration;

use anyhow::Result;
use common::{databases, poll, Cpms};
use serde_json::{json, Value};
use simulator::fleet::{Fleet, FleetOptions, ProtocolChoice};
use simulator::plan::Behaviour;

/// The CPMS with token SIM-TOKEN-1 accepted, and one connected station of two EVSEs named by
/// `pattern`.
async fn connected_station(
    db: &common::TestDb,
    protocol: ProtocolChoice,
    pattern: &str,
) -> (Cpms, Fleet) {
    let cpms = Cpms::start_with_tokens(db, &["SIM-TOKEN-1"]).await;
    let fleet = fleet(&cpms, protocol, pattern);
    connected(&cpms, &pattern.replace("{n}", "1"))
        .await
        .expect("connects");
    (cpms, fleet)
}

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

/// Sends command `name` and checks that the station's answer contains `expected`.
async fn answered(cpms: &Cpms, station: &str, name: &str, body: Value, expected: &str) {
    let reply = command(cpms, station, name, body).await;
    assert!(reply.to_string().contains(expected), "{name}: {reply}");
}

/// Remote-starts SIM-TOKEN-1 on `evse` and waits for the CPMS's Active transaction.
async fn remote_start(cpms: &Cpms, station: &str, evse: u32) -> Value {
    let body = json!({"id_token": "SIM-TOKEN-1", "evse_id": evse});
    answered(cpms, station, "remote-start", body, "Accepted").await;
    transaction_in_state(cpms, station, "Active")
        .await
        .expect("a session runs")
}

/// Remote-stops transaction `id` and waits for the CPMS to store it Stopped for that reason.
async fn remote_stop(cpms: &Cpms, station: &str, id: i64) -> Value {
    let body = json!({"transaction_id": id});
    answered(cpms, station, "remote-stop", body, "Accepted").await;
    let stopped = transaction_in_state(cpms, station, "Stopped")
        .await
        .expect("stops");
    assert_eq!(stopped["stop_reason"], json!("Remote"));
    stopped
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
        let (cpms, fleet) = connected_station(&db, ProtocolChoice::V16, "SIM-CMD16-{n}").await;
        let station = "SIM-CMD16-1";

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
        let change = "change-configuration";
        let body = json!({"key": "MeterValueSampleInterval", "value": "30"});
        answered(&cpms, station, change, body, "Accepted").await;
        // Read-only.
        let body = json!({"key": "NumberOfConnectors", "value": "9"});
        answered(&cpms, station, change, body, "Rejected").await;

        let tx = remote_start(&cpms, station, 2).await;
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

        remote_stop(&cpms, station, id).await;

        let reconnects = fleet.metrics.reconnects.load(Ordering::Relaxed);
        answered(&cpms, station, "reset", json!({"type": "Soft"}), "Accepted").await;
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
        let (cpms, fleet) = connected_station(&db, ProtocolChoice::V201, "SIM-CMD201-{n}").await;
        let station = "SIM-CMD201-1";

        let body = json!({"variables": [{"component": "OCPPCommCtrlr", "variable": "HeartbeatInterval", "value": "120"}]});
        answered(&cpms, station, "set-variables", body, "Accepted").await;
        let reply = command(
            &cpms,
            station,
            "get-variables",
            json!({"variables": [{"component": "OCPPCommCtrlr", "variable": "HeartbeatInterval"}, {"component": "Nope", "variable": "X"}]}),
        )
        .await;
        assert!(reply.to_string().contains("120"), "{reply}");
        assert!(reply.to_string().contains("UnknownComponent"), "{reply}");

        let tx = remote_start(&cpms, station, 1).await;
        let id = tx["id"].as_i64().expect("id");
        let stopped = remote_stop(&cpms, station, id).await;
        assert!(common::number(&stopped["energy_wh"]) >= 0);
        fleet.stop(Duration::from_secs(5)).await;
        cpms.stop().await;
    }
}
