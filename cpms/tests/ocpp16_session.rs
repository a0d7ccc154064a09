//! A 1.6 charger's whole life over a real websocket, on SQLite and (when configured) PostgreSQL:
//! boot, status, authorize, start, meter values, stop; retransmitted and replayed messages; a
//! server restart in the middle of a transaction.

mod common;

use common::*;
use serde_json::json;

#[tokio::test]
async fn full_session_is_stored_and_visible_to_the_operator() {
    for db in databases().await {
        let server = TestServer::start(&settings(&db)).await.unwrap();
        accepted_token(&server, "TAG-OK").await.unwrap();
        let mut cp = server.connect("CP-FULL").await.unwrap();
        assert_eq!(cp.subprotocol.as_deref(), Some("ocpp1.6"));

        let boot = cp.boot().await.unwrap();
        assert_eq!(boot["status"], "Accepted", "{}", db.label);
        assert_eq!(boot["interval"], 300);
        cp.status(0, "Available").await.unwrap();
        cp.status(1, "Available").await.unwrap();
        let hb = cp.call("Heartbeat", json!({})).await.unwrap();
        assert!(hb["currentTime"].is_string());

        let auth = cp
            .call("Authorize", json!({"idTag": "TAG-OK"}))
            .await
            .unwrap();
        assert_eq!(auth["idTagInfo"]["status"], "Accepted");
        let unknown = cp
            .call("Authorize", json!({"idTag": "NOPE"}))
            .await
            .unwrap();
        assert_eq!(unknown["idTagInfo"]["status"], "Invalid");

        cp.status(1, "Preparing").await.unwrap();
        let started = cp.start(1, "TAG-OK", 1000, &now()).await.unwrap();
        assert_eq!(started["idTagInfo"]["status"], "Accepted");
        let tx = started["transactionId"].as_i64().unwrap();
        cp.status(1, "Charging").await.unwrap();

        // Wh and kWh registers, plus other measurands, all stored.
        cp.call(
            "MeterValues",
            json!({"connectorId": 1, "transactionId": tx, "meterValue": [
                {"timestamp": now(), "sampledValue": [
                    {"value": "1500", "measurand": "Energy.Active.Import.Register", "unit": "Wh"},
                    {"value": "7200", "measurand": "Power.Active.Import", "unit": "W"},
                    {"value": "16.1", "measurand": "Current.Import", "phase": "L1", "unit": "A"}
                ]}
            ]}),
        )
        .await
        .unwrap();
        let (_, live) = server
            .api("GET", &format!("/api/transactions/{tx}"), None)
            .await
            .unwrap();
        assert_eq!(live["state"], "Active");
        assert_eq!(live["energy_wh"], "500");
        cp.call(
            "MeterValues",
            json!({"connectorId": 1, "transactionId": tx, "meterValue": [
                {"timestamp": now(), "sampledValue": [
                    {"value": "2.75", "measurand": "Energy.Active.Import.Register", "unit": "kWh"}
                ]}
            ]}),
        )
        .await
        .unwrap();
        let (_, live) = server
            .api("GET", &format!("/api/transactions/{tx}"), None)
            .await
            .unwrap();
        assert_eq!(live["energy_wh"], "1750", "{}: {live}", db.label);

        let stop = cp
            .call(
                "StopTransaction",
                json!({"transactionId": tx, "meterStop": 4000, "timestamp": now(), "reason": "EVDisconnected", "idTag": "TAG-OK",
                       "transactionData": [{"timestamp": now(), "sampledValue": [{"value": "4000", "unit": "Wh"}]}]}),
            )
            .await
            .unwrap();
        assert_eq!(stop["idTagInfo"]["status"], "Accepted");
        cp.status(1, "Finishing").await.unwrap();

        let (status, t) = server
            .api("GET", &format!("/api/transactions/{tx}"), None)
            .await
            .unwrap();
        assert_eq!(status, 200);
        assert_eq!(t["state"], "Stopped");
        assert_eq!(t["meter_start_wh"], "1000");
        assert_eq!(t["meter_stop_wh"], "4000");
        assert_eq!(t["energy_wh"], "3000");
        assert_eq!(t["stop_reason"], "EVDisconnected");
        assert_eq!(t["id_token"], "TAG-OK");
        assert_eq!(t["evse_id"], 1);
        let samples = t["meter_samples"].as_array().unwrap();
        assert_eq!(samples.len(), 5, "{}: {t}", db.label);
        assert!(samples
            .iter()
            .any(|s| s["measurand"] == "Current.Import" && s["phase"] == "L1"));

        let (_, station) = server
            .api("GET", "/api/stations/CP-FULL", None)
            .await
            .unwrap();
        assert_eq!(station["vendor"], "TestVendor");
        assert_eq!(station["serial_number"], "SN1");
        assert_eq!(station["protocol"], "ocpp1.6");
        assert_eq!(station["connected"], true);
        let connectors = station["connectors"].as_array().unwrap();
        let c1 = connectors.iter().find(|c| c["evse_id"] == 1).unwrap();
        assert_eq!(c1["status"], "Finishing");
        assert_eq!(c1["source_status"], "Finishing");
        assert!(connectors
            .iter()
            .any(|c| c["evse_id"] == 0 && c["status"] == "Available"));

        let (_, list) = server
            .api(
                "GET",
                "/api/transactions?station_id=CP-FULL&state=Stopped",
                None,
            )
            .await
            .unwrap();
        assert_eq!(list["total"], 1);
        server.stop().await;
    }
}

#[tokio::test]
async fn a_retransmitted_start_gets_the_same_transaction_id() {
    for db in databases().await {
        let server = TestServer::start(&settings(&db)).await.unwrap();
        accepted_token(&server, "TAG-DUP").await.unwrap();
        let mut cp = server.connect("CP-DUP").await.unwrap();
        cp.boot().await.unwrap();
        let at = now();
        let first = cp.start(1, "TAG-DUP", 50, &at).await.unwrap();
        // The charger lost the answer, reconnects and sends the same start again.
        drop(cp);
        let mut cp = server.connect("CP-DUP").await.unwrap();
        let second = cp.start(1, "TAG-DUP", 50, &at).await.unwrap();
        assert_eq!(
            first["transactionId"], second["transactionId"],
            "{}",
            db.label
        );
        let (_, list) = server
            .api("GET", "/api/transactions?station_id=CP-DUP", None)
            .await
            .unwrap();
        assert_eq!(list["total"], 1, "{}", db.label);
        server.stop().await;
    }
}

#[tokio::test]
async fn stops_for_unknown_or_stopped_transactions_are_accepted_without_effect() {
    for db in databases().await {
        let server = TestServer::start(&settings(&db)).await.unwrap();
        accepted_token(&server, "TAG-S").await.unwrap();
        let mut cp = server.connect("CP-STOP").await.unwrap();
        cp.boot().await.unwrap();
        let unknown = cp.stop(987_654, 10, "Local").await.unwrap();
        assert!(unknown.is_object());
        let tx = cp.start(1, "TAG-S", 0, &now()).await.unwrap()["transactionId"]
            .as_i64()
            .unwrap();
        cp.stop(tx, 700, "Local").await.unwrap();
        // A replay after being offline, with another register value: the first stop stands.
        cp.stop(tx, 999, "PowerLoss").await.unwrap();
        let (_, t) = server
            .api("GET", &format!("/api/transactions/{tx}"), None)
            .await
            .unwrap();
        assert_eq!(t["meter_stop_wh"], "700", "{}", db.label);
        assert_eq!(t["stop_reason"], "Local");
        server.stop().await;
    }
}

#[tokio::test]
async fn timestamps_without_a_zone_are_taken_as_utc() {
    let db = sqlite();
    let server = TestServer::start(&settings(&db)).await.unwrap();
    let mut cp = server.connect("CP-NOZONE").await.unwrap();
    cp.boot().await.unwrap();
    let started = cp.start(1, "ANY", 0, "2024-05-01T10:00:00").await.unwrap();
    let tx = started["transactionId"].as_i64().unwrap();
    // Unknown tokens still get a transaction id (1.6 §4.8), with an Invalid verdict.
    assert_eq!(started["idTagInfo"]["status"], "Invalid");
    let (_, t) = server
        .api("GET", &format!("/api/transactions/{tx}"), None)
        .await
        .unwrap();
    assert_eq!(t["started_at"], "2024-05-01T10:00:00Z");
    server.stop().await;
}

#[tokio::test]
async fn a_restart_mid_transaction_keeps_it_open_until_the_stop() {
    for db in databases().await {
        let s = settings(&db);
        let server = TestServer::start(&s).await.unwrap();
        accepted_token(&server, "TAG-R").await.unwrap();
        let mut cp = server.connect("CP-RESTART").await.unwrap();
        cp.boot().await.unwrap();
        let tx = cp.start(1, "TAG-R", 12_000, &now()).await.unwrap()["transactionId"]
            .as_i64()
            .unwrap();
        // Graceful shutdown closes the websocket with a close frame.
        let stopping = tokio::spawn(async move { server.stop().await });
        assert_eq!(cp.closed().await.unwrap(), Some(1001));
        stopping.await.unwrap();

        let server = TestServer::start(&s).await.unwrap();
        let (_, t) = server
            .api("GET", &format!("/api/transactions/{tx}"), None)
            .await
            .unwrap();
        assert_eq!(t["state"], "Active", "{}", db.label);
        let mut cp = server.connect("CP-RESTART").await.unwrap();
        cp.boot().await.unwrap();
        cp.stop(tx, 15_500, "Local").await.unwrap();
        let (_, t) = server
            .api("GET", &format!("/api/transactions/{tx}"), None)
            .await
            .unwrap();
        assert_eq!(t["state"], "Stopped");
        assert_eq!(t["energy_wh"], "3500", "{}", db.label);
        server.stop().await;
    }
}

#[tokio::test]
async fn domain_events_follow_the_session_in_order() {
    use cpms::events::DomainEvent;
    let db = sqlite();
    let server = TestServer::start(&settings(&db)).await.unwrap();
    accepted_token(&server, "TAG-EV").await.unwrap();
    let mut events = server.server.core.events().subscribe();
    let mut cp = server.connect("CP-EVENTS").await.unwrap();
    cp.boot().await.unwrap();
    cp.status(1, "Charging").await.unwrap();
    let tx = cp.start(1, "TAG-EV", 100, &now()).await.unwrap()["transactionId"]
        .as_i64()
        .unwrap();
    cp.call(
        "MeterValues",
        json!({"connectorId": 1, "transactionId": tx, "meterValue": [
            {"timestamp": now(), "sampledValue": [{"value": "350", "unit": "Wh"}]}]}),
    )
    .await
    .unwrap();
    cp.stop(tx, 600, "Local").await.unwrap();
    drop(cp);

    let mut kinds = Vec::new();
    while kinds.last() != Some(&"station_disconnected") {
        let envelope = tokio::time::timeout(WAIT, events.recv())
            .await
            .expect("event in time")
            .expect("event");
        assert_eq!(envelope.station_id, "CP-EVENTS");
        let kind = match &envelope.event {
            DomainEvent::StationConnected { .. } => "station_connected",
            DomainEvent::StationBooted { .. } => "station_booted",
            DomainEvent::StatusChanged { status, .. } => {
                assert_eq!(*status, ocpp_gateway::port::ConnectorStatus::Charging);
                "status_changed"
            }
            DomainEvent::TransactionStarted { transaction_id, .. } => {
                assert_eq!(i64::from(*transaction_id), tx);
                "transaction_started"
            }
            DomainEvent::MeterValues { samples, .. } => {
                assert_eq!(*samples, 1);
                "meter_values"
            }
            DomainEvent::TransactionUpdated { energy_wh, .. } => {
                assert_eq!(energy_wh.to_string(), "250");
                "transaction_updated"
            }
            DomainEvent::TransactionEnded { energy_wh, .. } => {
                assert_eq!(energy_wh.to_string(), "500");
                "transaction_ended"
            }
            DomainEvent::StationDisconnected => "station_disconnected",
        };
        // The envelope is what a broker would carry: the tag names the event.
        let wire = serde_json::to_value(&envelope).unwrap();
        assert_eq!(wire["event"]["type"], kind);
        kinds.push(kind);
    }
    assert_eq!(
        kinds,
        [
            "station_connected",
            "station_booted",
            "status_changed",
            "transaction_started",
            "meter_values",
            "transaction_updated",
            "transaction_ended",
            "station_disconnected"
        ]
    );
    server.stop().await;
}
