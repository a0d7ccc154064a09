//! Smart charging through the operator API on 1.6 and 2.0.1 stations: the exact payload each
//! charger receives, what the CPMS stores (only what a station accepted), clearing, the composite
//! schedule translated back, and the validation 400s. On SQLite and (when configured) PostgreSQL.

mod common;

use std::time::Duration;

use common::*;
use serde_json::{json, Value};

/// Sends an API request from a task of its own, so the test can play the station meanwhile.
fn spawn_api(
    server: &TestServer,
    method: &'static str,
    path: String,
    body: Option<Value>,
) -> tokio::task::JoinHandle<anyhow::Result<(u16, Value)>> {
    let http = server.http.clone();
    let url = server.api_url(&path);
    let token = server.token.clone();
    tokio::spawn(async move {
        let mut req = http
            .request(reqwest::Method::from_bytes(method.as_bytes())?, url)
            .bearer_auth(token)
            .timeout(Duration::from_secs(60));
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req.send().await?;
        let status = resp.status().as_u16();
        let text = resp.text().await?;
        Ok((status, serde_json::from_str(&text).unwrap_or(Value::Null)))
    })
}

/// Drives one API request the station must answer: checks the CALL, replies, returns the answer.
async fn station_round_trip(
    cp: &mut Charger,
    task: tokio::task::JoinHandle<anyhow::Result<(u16, Value)>>,
    action: &str,
    payload: Value,
    reply: Value,
) -> (u16, Value) {
    let (id, got_action, got) = cp.expect_call().await.unwrap();
    assert_eq!(got_action, action);
    assert_eq!(got, payload);
    cp.reply(&id, reply).await.unwrap();
    answer(task).await.unwrap()
}

fn tx_default() -> Value {
    json!({"id": 1, "purpose": "TxDefaultProfile", "stack_level": 0, "kind": "Recurring",
        "recurrency": "Daily",
        "schedule": {"start_schedule": "2025-03-01T00:00:00Z", "charging_rate_unit": "A",
            "periods": [{"start_period": 0, "limit": 32}, {"start_period": 28800, "limit": 16,
                "number_phases": 1}]}})
}

fn tx_profile(tx: i64) -> Value {
    json!({"id": 2, "purpose": "TxProfile", "stack_level": 1, "kind": "Relative",
        "transaction_id": tx,
        "schedule": {"charging_rate_unit": "W", "duration": 3600,
            "periods": [{"start_period": 0, "limit": 7400.5}]}})
}

#[tokio::test]
async fn profiles_on_a_1_6_station_are_sent_stored_listed_and_cleared() {
    for db in databases().await {
        let server = TestServer::start(&settings(&db)).await.unwrap();
        accepted_token(&server, "T1").await.unwrap();
        let mut cp = server.connect("CP-SC16").await.unwrap();
        cp.boot().await.unwrap();
        let path = "/api/stations/CP-SC16/charging-profiles".to_owned();

        let task = spawn_api(
            &server,
            "POST",
            path.clone(),
            Some(json!({"evse_id": 0, "profile": tx_default()})),
        );
        let (status, body) = station_round_trip(&mut cp, task, "SetChargingProfile",
            json!({"connectorId": 0, "csChargingProfiles": {"chargingProfileId": 1, "stackLevel": 0,
                "chargingProfilePurpose": "TxDefaultProfile", "chargingProfileKind": "Recurring",
                "recurrencyKind": "Daily", "chargingSchedule": {"startSchedule": "2025-03-01T00:00:00Z",
                "chargingRateUnit": "A", "chargingSchedulePeriod": [{"startPeriod": 0, "limit": 32},
                {"startPeriod": 28800, "limit": 16, "numberPhases": 1}]}}}),
            json!({"status": "Accepted"})).await;
        assert_eq!(status, 201, "{}: {body}", db.label);
        assert_eq!(body["installed"]["profile"]["id"], 1);

        // A TxProfile names the 1.6 transaction by the CPMS's own id.
        let started = cp.start(1, "T1", 0, &now()).await.unwrap();
        let tx = started["transactionId"].as_i64().unwrap();
        let task = spawn_api(
            &server,
            "POST",
            path.clone(),
            Some(json!({"evse_id": 1, "profile": tx_profile(tx)})),
        );
        let (status, _) = station_round_trip(&mut cp, task, "SetChargingProfile",
            json!({"connectorId": 1, "csChargingProfiles": {"chargingProfileId": 2, "transactionId": tx,
                "stackLevel": 1, "chargingProfilePurpose": "TxProfile", "chargingProfileKind": "Relative",
                "chargingSchedule": {"duration": 3600, "chargingRateUnit": "W",
                "chargingSchedulePeriod": [{"startPeriod": 0, "limit": 7400.5}]}}}),
            json!({"status": "Accepted"})).await;
        assert_eq!(status, 201, "{}", db.label);

        // Rejected: nothing stored.
        let mut rejected = tx_default();
        rejected["id"] = json!(3);
        rejected["stack_level"] = json!(5);
        let task = spawn_api(
            &server,
            "POST",
            path.clone(),
            Some(json!({"evse_id": 1, "profile": rejected})),
        );
        let (id, action, _) = cp.expect_call().await.unwrap();
        assert_eq!(action, "SetChargingProfile");
        cp.reply(&id, json!({"status": "Rejected"})).await.unwrap();
        assert_eq!(
            answer(task).await.unwrap(),
            (200, json!({"status": "Rejected"}))
        );

        let (_, list) = server.api("GET", &path, None).await.unwrap();
        let ids: Vec<_> = list["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["profile"]["id"].clone())
            .collect();
        assert_eq!(ids, vec![json!(1), json!(2)], "{}: {list}", db.label);
        assert_eq!(
            list["items"][1]["profile"]["schedule"]["periods"][0]["limit"],
            json!(7400.5)
        );

        // Clear by id through DELETE.
        let task = spawn_api(&server, "DELETE", format!("{path}/2"), None);
        let (status, body) = station_round_trip(
            &mut cp,
            task,
            "ClearChargingProfile",
            json!({"id": 2}),
            json!({"status": "Accepted"}),
        )
        .await;
        assert_eq!(
            (status, body),
            (200, json!({"status": "Accepted", "removed": 1}))
        );

        // Clear by criteria through the command.
        let task = server.command(
            "CP-SC16",
            "clear-charging-profile",
            Some(json!({"evse_id": 0, "purpose": "TxDefaultProfile", "stack_level": 0})),
        );
        let (status, _) = station_round_trip(&mut cp, task, "ClearChargingProfile",
            json!({"connectorId": 0, "chargingProfilePurpose": "TxDefaultProfile", "stackLevel": 0}),
            json!({"status": "Accepted"})).await;
        assert_eq!(status, 200);
        let (_, list) = server.api("GET", &path, None).await.unwrap();
        assert_eq!(list["items"], json!([]), "{}", db.label);

        // The composite schedule comes back in the API's schedule model.
        let task = server.command(
            "CP-SC16",
            "get-composite-schedule",
            Some(json!({"evse_id": 1, "duration": 600, "charging_rate_unit": "A"})),
        );
        let (status, body) = station_round_trip(&mut cp, task, "GetCompositeSchedule",
            json!({"connectorId": 1, "duration": 600, "chargingRateUnit": "A"}),
            json!({"status": "Accepted", "connectorId": 1, "scheduleStart": "2025-03-01T08:00:00Z",
                "chargingSchedule": {"duration": 600, "chargingRateUnit": "A",
                "chargingSchedulePeriod": [{"startPeriod": 0, "limit": 16}, {"startPeriod": 300, "limit": 10.5}]}})).await;
        assert_eq!(status, 200);
        assert_eq!(
            body,
            json!({"status": "Accepted", "composite": {"evse_id": 1,
            "schedule_start": "2025-03-01T08:00:00Z", "schedule": {"duration": 600,
            "charging_rate_unit": "A", "periods": [{"start_period": 0, "limit": 16},
            {"start_period": 300, "limit": 10.5}]}}})
        );
        server.stop().await;
    }
}

#[tokio::test]
async fn profiles_on_a_2_0_1_station_use_its_transaction_id_and_schedule_array() {
    for db in databases().await {
        let server = TestServer::start(&settings(&db)).await.unwrap();
        let mut cp = server.connect_v201("CP-SC201").await.unwrap();
        cp.boot201().await.unwrap();
        cp.tx_event(
            "Started",
            "ST-TX-1",
            0,
            &now(),
            "CablePluggedIn",
            Some(0),
            json!({"evse": {"id": 1, "connectorId": 1}}),
        )
        .await
        .unwrap();
        let (_, txs) = server.api("GET", "/api/transactions", None).await.unwrap();
        let tx = txs["items"][0]["id"].as_i64().unwrap();
        let path = "/api/stations/CP-SC201/charging-profiles".to_owned();

        let mut max = tx_default();
        max["purpose"] = json!("ChargePointMaxProfile");
        let task = spawn_api(
            &server,
            "POST",
            path.clone(),
            Some(json!({"evse_id": 0, "profile": max})),
        );
        let (status, body) = station_round_trip(&mut cp, task, "SetChargingProfile",
            json!({"evseId": 0, "chargingProfile": {"id": 1, "stackLevel": 0,
                "chargingProfilePurpose": "ChargingStationMaxProfile", "chargingProfileKind": "Recurring",
                "recurrencyKind": "Daily", "chargingSchedule": [{"id": 1,
                "startSchedule": "2025-03-01T00:00:00.000Z", "chargingRateUnit": "A",
                "chargingSchedulePeriod": [{"startPeriod": 0, "limit": 32},
                {"startPeriod": 28800, "limit": 16, "numberPhases": 1}]}]}}),
            json!({"status": "Accepted"})).await;
        assert_eq!(status, 201, "{}: {body}", db.label);
        assert_eq!(
            body["installed"]["profile"]["purpose"],
            "ChargingStationMaxProfile"
        );

        let task = spawn_api(
            &server,
            "POST",
            path.clone(),
            Some(json!({"evse_id": 1, "profile": tx_profile(tx)})),
        );
        let (status, _) = station_round_trip(&mut cp, task, "SetChargingProfile",
            json!({"evseId": 1, "chargingProfile": {"id": 2, "stackLevel": 1,
                "chargingProfilePurpose": "TxProfile", "chargingProfileKind": "Relative",
                "transactionId": "ST-TX-1", "chargingSchedule": [{"id": 2, "duration": 3600,
                "chargingRateUnit": "W", "chargingSchedulePeriod": [{"startPeriod": 0, "limit": 7400.5}]}]}}),
            json!({"status": "Accepted"})).await;
        assert_eq!(status, 201, "{}", db.label);

        // Clear by criteria: the 2.0.1 criteria object; Unknown leaves the record alone.
        let task = server.command(
            "CP-SC201",
            "clear-charging-profile",
            Some(json!({"evse_id": 1})),
        );
        let (status, body) = station_round_trip(
            &mut cp,
            task,
            "ClearChargingProfile",
            json!({"chargingProfileCriteria": {"evseId": 1}}),
            json!({"status": "Unknown"}),
        )
        .await;
        assert_eq!((status, body), (200, json!({"status": "Unknown"})));
        let (_, list) = server.api("GET", &path, None).await.unwrap();
        assert_eq!(list["items"].as_array().unwrap().len(), 2, "{}", db.label);

        let task = spawn_api(&server, "DELETE", format!("{path}/1"), None);
        let (_, body) = station_round_trip(
            &mut cp,
            task,
            "ClearChargingProfile",
            json!({"chargingProfileId": 1}),
            json!({"status": "Accepted"}),
        )
        .await;
        assert_eq!(body["removed"], 1);
        let (_, list) = server.api("GET", &path, None).await.unwrap();
        assert_eq!(list["items"][0]["profile"]["id"], 2, "{}", db.label);

        let task = server.command(
            "CP-SC201",
            "get-composite-schedule",
            Some(json!({"evse_id": 1, "duration": 300})),
        );
        let (_, body) = station_round_trip(
            &mut cp,
            task,
            "GetCompositeSchedule",
            json!({"evseId": 1, "duration": 300}),
            json!({"status": "Accepted", "schedule": {"evseId": 1, "duration": 300,
                "scheduleStart": "2025-03-01T08:00:00Z", "chargingRateUnit": "W",
                "chargingSchedulePeriod": [{"startPeriod": 0, "limit": 7400.5}]}}),
        )
        .await;
        assert_eq!(
            body["composite"]["schedule"],
            json!({"duration": 300,
            "start_schedule": "2025-03-01T08:00:00Z", "charging_rate_unit": "W",
            "periods": [{"start_period": 0, "limit": 7400.5}]})
        );
        server.stop().await;
    }
}

#[tokio::test]
async fn invalid_profiles_are_refused_with_400_before_reaching_the_station() {
    let db = sqlite();
    let server = TestServer::start(&settings(&db)).await.unwrap();
    let mut cp = server.connect("CP-SC-BAD").await.unwrap();
    cp.boot().await.unwrap();
    let cases: Vec<(i32, &[&str], Value, &str)> = vec![
        (
            1,
            &["schedule", "periods"],
            json!([{"start_period": 10, "limit": 1}]),
            "start_period 0",
        ),
        (
            1,
            &["schedule", "periods"],
            json!([{"start_period": 0, "limit": 1}, {"start_period": 0, "limit": 2}]),
            "sorted",
        ),
        (
            1,
            &["schedule", "periods"],
            json!([{"start_period": 0, "limit": -1}]),
            "limit",
        ),
        (1, &["schedule", "periods"], json!([]), "at least one"),
        (1, &["recurrency"], Value::Null, "recurrency"),
        (1, &["stack_level"], json!(-1), "stack_level"),
        (1, &["purpose"], json!("TxProfile"), "transaction_id"),
        (
            1,
            &["purpose"],
            json!("ChargingStationMaxProfile"),
            "evse_id 0",
        ),
        (
            1,
            &["purpose"],
            json!("ChargingStationExternalConstraints"),
            "unknown variant",
        ),
    ];
    for (evse, path, value, expected) in cases {
        let mut profile = tx_default();
        let mut target = &mut profile;
        for key in &path[..path.len() - 1] {
            target = &mut target[*key];
        }
        if value.is_null() {
            target.as_object_mut().unwrap().remove(path[path.len() - 1]);
        } else {
            target[path[path.len() - 1]] = value;
        }
        let (status, body) = server
            .api(
                "POST",
                "/api/stations/CP-SC-BAD/charging-profiles",
                Some(json!({"evse_id": evse, "profile": profile})),
            )
            .await
            .unwrap();
        assert_eq!(status, 400, "{path:?}: {body}");
        assert!(
            body["message"].as_str().unwrap().contains(expected),
            "{path:?}: {body}"
        );
    }
    let mut tx = tx_profile(1);
    let (status, _) = server
        .api(
            "POST",
            "/api/stations/CP-SC-BAD/charging-profiles",
            Some(json!({"evse_id": 0, "profile": tx.clone()})),
        )
        .await
        .unwrap();
    assert_eq!(status, 400);
    tx["transaction_id"] = json!(999);
    let (status, body) = server
        .api(
            "POST",
            "/api/stations/CP-SC-BAD/charging-profiles",
            Some(json!({"evse_id": 1, "profile": tx})),
        )
        .await
        .unwrap();
    assert_eq!(status, 400, "an unknown transaction: {body}");
    let (status, _) = server
        .api(
            "POST",
            "/api/stations/CP-SC-BAD/commands/get-composite-schedule",
            Some(json!({"evse_id": 1, "duration": 0})),
        )
        .await
        .unwrap();
    assert_eq!(status, 400);
    let (status, _) = server
        .api(
            "POST",
            "/api/stations/CP-SC-BAD/commands/clear-charging-profile",
            Some(json!({"id": 1, "evse_id": 1})),
        )
        .await
        .unwrap();
    assert_eq!(status, 400);
    server.stop().await;
}
