//! A 2.0.1 charging station over a real websocket, on SQLite and (when configured) PostgreSQL:
//! the TransactionEvent lifecycle, replays after an offline period, remote start and stop and the
//! device-model commands through the operator API, malformed frames with the OCPP-J 2.0.1 codes,
//! a server restart mid-transaction, and 1.6 and 2.0.1 stations side by side.

mod common;

use common::*;
use serde_json::{json, Value};

/// Checks that `frame` is a CALLERROR `[4, id, code, description, {details}]`.
fn assert_call_error(frame: &Value, unique_id: &str, code: &str) {
    let items = frame.as_array().expect("a frame is a JSON array");
    assert_eq!(items.len(), 5, "a CALLERROR has 5 elements: {frame}");
    assert_eq!(items[0], 4, "not a CALLERROR: {frame}");
    assert_eq!(items[1], unique_id, "unique id of {frame}");
    assert_eq!(items[2], code, "error code of {frame}");
    assert!(items[4].is_object(), "details of {frame}");
}

fn token(id: &str) -> Value {
    json!({"idToken": id, "type": "ISO14443"})
}

/// The one transaction of `station`, as the operator API lists it.
async fn only_transaction(server: &TestServer, station: &str) -> Value {
    let (status, list) = server
        .api(
            "GET",
            &format!("/api/transactions?station_id={station}"),
            None,
        )
        .await
        .unwrap();
    assert_eq!(status, 200);
    assert_eq!(list["total"], 1, "{list}");
    list["items"][0].clone()
}

#[tokio::test]
async fn a_transaction_event_session_is_stored_like_a_1_6_one() {
    for db in databases().await {
        let server = TestServer::start(&settings(&db)).await.unwrap();
        accepted_token(&server, "TAG-201").await.unwrap();
        let mut cp = server.connect_v201("CP201-FULL").await.unwrap();
        assert_eq!(cp.subprotocol.as_deref(), Some("ocpp2.0.1"));

        let boot = cp.boot201().await.unwrap();
        assert_eq!(boot["status"], "Accepted", "{}", db.label);
        assert_eq!(boot["interval"], 300);
        cp.status201(1, 1, "Available").await.unwrap();
        assert!(cp.call("Heartbeat", json!({})).await.unwrap()["currentTime"].is_string());
        let auth = cp
            .call("Authorize", json!({"idToken": token("TAG-201")}))
            .await
            .unwrap();
        assert_eq!(auth["idTokenInfo"]["status"], "Accepted");
        let unknown = cp
            .call("Authorize", json!({"idToken": token("NOPE")}))
            .await
            .unwrap();
        assert_eq!(unknown["idTokenInfo"]["status"], "Invalid");

        cp.status201(1, 1, "Occupied").await.unwrap();
        let started = cp
            .tx_event(
                "Started",
                "TX-FULL-1",
                0,
                &now(),
                "Authorized",
                Some(1000),
                json!({"idToken": token("TAG-201"), "evse": {"id": 1, "connectorId": 1},
                       "transactionInfo": {"chargingState": "Charging"}}),
            )
            .await
            .unwrap();
        assert_eq!(started["idTokenInfo"]["status"], "Accepted");
        let tx = only_transaction(&server, "CP201-FULL").await;
        assert_eq!(tx["state"], "Active");
        assert_eq!(tx["station_transaction_id"], "TX-FULL-1");
        let id = tx["id"].as_i64().unwrap();

        // Updated with several measurands and a kWh register; no idToken, so no idTokenInfo.
        let updated = cp
            .call(
                "TransactionEvent",
                json!({"eventType": "Updated", "timestamp": now(), "triggerReason": "MeterValuePeriodic",
                       "seqNo": 1, "transactionInfo": {"transactionId": "TX-FULL-1"},
                       "meterValue": [{"timestamp": now(), "sampledValue": [
                           {"value": 2.75, "measurand": "Energy.Active.Import.Register", "unitOfMeasure": {"unit": "kWh"}},
                           {"value": 7200, "measurand": "Power.Active.Import", "unitOfMeasure": {"unit": "W"}},
                           {"value": 16.1, "measurand": "Current.Import", "phase": "L1", "unitOfMeasure": {"unit": "A"}}
                       ]}]}),
            )
            .await
            .unwrap();
        assert!(updated.get("idTokenInfo").is_none(), "{updated}");
        let (_, live) = server
            .api("GET", &format!("/api/transactions/{id}"), None)
            .await
            .unwrap();
        assert_eq!(live["energy_wh"], "1750", "{}: {live}", db.label);

        cp.tx_event(
            "Ended",
            "TX-FULL-1",
            2,
            &now(),
            "EVDeparted",
            Some(4000),
            json!({"transactionInfo": {"stoppedReason": "EVDisconnected"}}),
        )
        .await
        .unwrap();
        cp.status201(1, 1, "Available").await.unwrap();

        let (status, t) = server
            .api("GET", &format!("/api/transactions/{id}"), None)
            .await
            .unwrap();
        assert_eq!(status, 200);
        assert_eq!(t["state"], "Stopped");
        assert_eq!(t["meter_start_wh"], "1000");
        assert_eq!(t["meter_stop_wh"], "4000");
        assert_eq!(t["energy_wh"], "3000", "{}: {t}", db.label);
        assert_eq!(t["stop_reason"], "EVDisconnected");
        assert_eq!(t["id_token"], "TAG-201");
        assert_eq!(t["authorization_status"], "Accepted");
        assert_eq!(t["evse_id"], 1);
        assert_eq!(t["connector_id"], 1);
        let samples = t["meter_samples"].as_array().unwrap();
        assert_eq!(samples.len(), 5, "{}: {t}", db.label);
        assert!(samples
            .iter()
            .any(|s| s["measurand"] == "Current.Import" && s["phase"] == "L1"));

        let (_, station) = server
            .api("GET", "/api/stations/CP201-FULL", None)
            .await
            .unwrap();
        assert_eq!(station["vendor"], "TestVendor201");
        assert_eq!(station["serial_number"], "SN201");
        assert_eq!(station["protocol"], "ocpp2.0.1");
        let c1 = station["connectors"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["evse_id"] == 1 && c["connector_id"] == 1)
            .cloned()
            .unwrap();
        assert_eq!(c1["status"], "Available");
        server.stop().await;
    }
}

#[tokio::test]
async fn reports_events_and_status_notifications_are_kept_per_station() {
    for db in databases().await {
        let server = TestServer::start(&settings(&db)).await.unwrap();
        let mut cp = server.connect_v201("CP201-MODEL").await.unwrap();
        cp.boot201().await.unwrap();
        cp.status201(2, 1, "Occupied").await.unwrap();
        let report = |value: &str, seq: i64| {
            json!({"requestId": 5, "seqNo": seq, "generatedAt": now(), "tbc": false, "reportData": [
                {"component": {"name": "OCPPCommCtrlr"}, "variable": {"name": "HeartbeatInterval"},
                 "variableAttribute": [{"value": value, "mutability": "ReadWrite", "persistent": true}],
                 "variableCharacteristics": {"dataType": "integer", "unit": "s", "minLimit": 1, "maxLimit": 86400, "supportsMonitoring": false}},
                {"component": {"name": "EVSE", "evse": {"id": 1}}, "variable": {"name": "Power"},
                 "variableAttribute": [{"value": "22000", "mutability": "ReadOnly"}, {"type": "MaxSet", "value": "11000"}],
                 "variableCharacteristics": {"dataType": "decimal", "unit": "W", "maxLimit": 22000.5, "supportsMonitoring": true}}
            ]})
        };
        cp.call("NotifyReport", report("300", 0)).await.unwrap();
        // A second report of the same attribute replaces the first.
        cp.call("NotifyReport", report("60", 1)).await.unwrap();
        let (status, vars) = server
            .api("GET", "/api/stations/CP201-MODEL/variables", None)
            .await
            .unwrap();
        assert_eq!(status, 200);
        assert_eq!(vars["total"], 3, "{}: {vars}", db.label);
        let hb = vars["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|v| v["variable"] == "HeartbeatInterval")
            .cloned()
            .unwrap();
        assert_eq!(hb["value"], "60");
        assert_eq!(hb["attribute_type"], "Actual");
        assert_eq!(hb["mutability"], "ReadWrite");
        assert_eq!(hb["data_type"], "integer");
        assert_eq!(hb["max_limit"], "86400");
        let (_, page) = server
            .api(
                "GET",
                "/api/stations/CP201-MODEL/variables?limit=1&offset=1",
                None,
            )
            .await
            .unwrap();
        assert_eq!(page["items"].as_array().unwrap().len(), 1);
        assert_eq!(page["total"], 3);

        cp.call(
            "NotifyEvent",
            json!({"generatedAt": now(), "seqNo": 0, "eventData": [
                {"eventId": 1, "timestamp": now(), "trigger": "Alerting", "actualValue": "true",
                 "techCode": "E42", "eventNotificationType": "HardWiredNotification",
                 "component": {"name": "Connector", "evse": {"id": 1, "connectorId": 1}},
                 "variable": {"name": "Problem"}}
            ]}),
        )
        .await
        .unwrap();
        cp.call(
            "SecurityEventNotification",
            json!({"type": "FirmwareUpdated", "timestamp": now(), "techInfo": "v2.1"}),
        )
        .await
        .unwrap();
        let (_, events) = server
            .api("GET", "/api/stations/CP201-MODEL/events", None)
            .await
            .unwrap();
        assert_eq!(events["total"], 2, "{}: {events}", db.label);
        let items = events["items"].as_array().unwrap();
        assert!(items.iter().any(|e| e["source"] == "NotifyEvent"
            && e["component"] == "Connector"
            && e["tech_code"] == "E42"
            && e["details"]["eventNotificationType"] == "HardWiredNotification"));
        assert!(items
            .iter()
            .any(|e| e["source"] == "SecurityEventNotification"
                && e["event_type"] == "FirmwareUpdated"));

        cp.call(
            "FirmwareStatusNotification",
            json!({"status": "Installing", "requestId": 1}),
        )
        .await
        .unwrap();
        cp.call(
            "LogStatusNotification",
            json!({"status": "Uploading", "requestId": 2}),
        )
        .await
        .unwrap();
        let dt = cp
            .call(
                "DataTransfer",
                json!({"vendorId": "com.example", "data": {"any": ["json"]}}),
            )
            .await
            .unwrap();
        assert_eq!(dt["status"], "UnknownVendorId");
        let (_, station) = server
            .api("GET", "/api/stations/CP201-MODEL", None)
            .await
            .unwrap();
        assert_eq!(station["firmware_status"], "Installing");
        assert_eq!(station["diagnostics_status"], "Uploading");
        let c = station["connectors"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["evse_id"] == 2)
            .cloned()
            .unwrap();
        assert_eq!(c["status"], "Occupied");
        assert_eq!(c["source_status"], "Occupied");
        server.stop().await;
    }
}

#[tokio::test]
async fn events_replayed_after_offline_twice_and_out_of_order_count_once() {
    for db in databases().await {
        let server = TestServer::start(&settings(&db)).await.unwrap();
        accepted_token(&server, "TAG-OFF").await.unwrap();
        let mut cp = server.connect_v201("CP201-OFFLINE").await.unwrap();
        cp.boot201().await.unwrap();
        let offline = |more: Value| {
            let mut extra = json!({"offline": true});
            if let (Some(e), Value::Object(m)) = (extra.as_object_mut(), more) {
                e.extend(m);
            }
            extra
        };
        let started =
            offline(json!({"idToken": token("TAG-OFF"), "evse": {"id": 2, "connectorId": 1}}));
        let ended = offline(json!({"transactionInfo": {"stoppedReason": "Local"}}));
        // seqNo 0..4: Started 1000 Wh, Updated 1500 / 2000 / 2600, Ended 3000; replayed as
        // 2, 0, 4, 2, 1, 3, 0, 4.
        let send = |seq: i64| match seq {
            0 => ("Started", at_minute(0), "Authorized", 1000, started.clone()),
            1 => (
                "Updated",
                at_minute(10),
                "MeterValuePeriodic",
                1500,
                offline(json!({})),
            ),
            2 => (
                "Updated",
                at_minute(20),
                "MeterValuePeriodic",
                2000,
                offline(json!({})),
            ),
            3 => (
                "Updated",
                at_minute(30),
                "MeterValuePeriodic",
                2600,
                offline(json!({})),
            ),
            _ => (
                "Ended",
                at_minute(40),
                "StopAuthorized",
                3000,
                ended.clone(),
            ),
        };
        for seq in [2, 0, 4, 2, 1, 3, 0, 4] {
            let (kind, at, trigger, wh, extra) = send(seq);
            cp.tx_event(kind, "TX-OFF-1", seq, &at, trigger, Some(wh), extra)
                .await
                .unwrap_or_else(|e| panic!("{}: seq {seq}: {e}", db.label));
        }
        let t = only_transaction(&server, "CP201-OFFLINE").await;
        assert_eq!(t["state"], "Stopped", "{}: {t}", db.label);
        assert_eq!(t["meter_start_wh"], "1000");
        assert_eq!(t["meter_stop_wh"], "3000");
        assert_eq!(t["energy_wh"], "2000", "{}: {t}", db.label);
        assert_eq!(t["started_at"], at_minute(0).replace(".000", ""));
        assert_eq!(t["evse_id"], 2);
        assert_eq!(t["id_token"], "TAG-OFF");
        assert_eq!(t["stop_reason"], "Local");
        let (_, detail) = server
            .api("GET", &format!("/api/transactions/{}", t["id"]), None)
            .await
            .unwrap();
        // One register sample per distinct event: the replays stored nothing.
        assert_eq!(
            detail["meter_samples"].as_array().unwrap().len(),
            5,
            "{}: {detail}",
            db.label
        );
        server.stop().await;
    }
}

#[tokio::test]
async fn a_restart_mid_transaction_keeps_it_open_until_the_ended_event() {
    for db in databases().await {
        let s = settings(&db);
        let server = TestServer::start(&s).await.unwrap();
        let mut cp = server.connect_v201("CP201-RESTART").await.unwrap();
        cp.boot201().await.unwrap();
        cp.tx_event(
            "Started",
            "TX-R-1",
            0,
            &at_minute(0),
            "CablePluggedIn",
            Some(12_000),
            json!({"evse": {"id": 1, "connectorId": 1}}),
        )
        .await
        .unwrap();
        let stopping = tokio::spawn(async move { server.stop().await });
        assert_eq!(cp.closed().await.unwrap(), Some(1001));
        stopping.await.unwrap();

        let server = TestServer::start(&s).await.unwrap();
        let t = only_transaction(&server, "CP201-RESTART").await;
        assert_eq!(t["state"], "Active", "{}", db.label);
        // No token yet: 2.0.1 starts a transaction at cable plug-in.
        assert_eq!(t["id_token"], "");
        let mut cp = server.connect_v201("CP201-RESTART").await.unwrap();
        cp.boot201().await.unwrap();
        // The station numbers on after its reconnect and authorises late.
        cp.tx_event(
            "Updated",
            "TX-R-1",
            1,
            &at_minute(5),
            "Authorized",
            None,
            json!({"idToken": token("LATE")}),
        )
        .await
        .unwrap();
        cp.tx_event(
            "Ended",
            "TX-R-1",
            2,
            &at_minute(60),
            "EVDeparted",
            Some(15_500),
            json!({}),
        )
        .await
        .unwrap();
        let t = only_transaction(&server, "CP201-RESTART").await;
        assert_eq!(t["state"], "Stopped");
        assert_eq!(t["energy_wh"], "3500", "{}", db.label);
        assert_eq!(t["id_token"], "LATE");
        assert_eq!(t["authorization_status"], "Invalid");
        server.stop().await;
    }
}

#[tokio::test]
async fn remote_start_stop_and_device_model_commands_go_through_the_operator_api() {
    let db = sqlite();
    let server = TestServer::start(&settings(&db)).await.unwrap();
    accepted_token(&server, "TAG-REMOTE").await.unwrap();
    let mut cp = server.connect_v201("CP201-CMD").await.unwrap();
    cp.boot201().await.unwrap();

    let asked = server.command(
        "CP201-CMD",
        "remote-start",
        Some(json!({"id_token": "TAG-REMOTE", "evse_id": 1})),
    );
    let (uid, action, payload) = cp.expect_call().await.unwrap();
    assert_eq!(action, "RequestStartTransaction");
    assert_eq!(payload["evseId"], 1);
    assert_eq!(payload["idToken"]["idToken"], "TAG-REMOTE");
    let remote_start_id = payload["remoteStartId"].as_i64().unwrap();
    cp.reply(&uid, json!({"status": "Accepted"})).await.unwrap();
    let (status, body) = answer(asked).await.unwrap();
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["status"], "Accepted");
    assert_eq!(body["remote_start_id"], remote_start_id);

    cp.tx_event(
        "Started",
        "TX-REMOTE-1",
        0,
        &now(),
        "RemoteStart",
        Some(500),
        json!({"idToken": {"idToken": "TAG-REMOTE", "type": "Central"}, "evse": {"id": 1, "connectorId": 1},
               "transactionInfo": {"remoteStartId": remote_start_id}}),
    )
    .await
    .unwrap();
    let t = only_transaction(&server, "CP201-CMD").await;
    assert_eq!(t["id_token"], "TAG-REMOTE");

    // The operator names our id; the station is asked with its own.
    let asked = server.command(
        "CP201-CMD",
        "remote-stop",
        Some(json!({"transaction_id": t["id"]})),
    );
    let (uid, action, payload) = cp.expect_call().await.unwrap();
    assert_eq!(action, "RequestStopTransaction");
    assert_eq!(payload, json!({"transactionId": "TX-REMOTE-1"}));
    cp.reply(&uid, json!({"status": "Accepted"})).await.unwrap();
    assert_eq!(answer(asked).await.unwrap().1["status"], "Accepted");

    let asked = server.command(
        "CP201-CMD",
        "get-variables",
        Some(
            json!({"variables": [{"component": "OCPPCommCtrlr", "variable": "HeartbeatInterval"}]}),
        ),
    );
    let (uid, action, payload) = cp.expect_call().await.unwrap();
    assert_eq!(action, "GetVariables");
    assert_eq!(
        payload["getVariableData"][0]["component"]["name"],
        "OCPPCommCtrlr"
    );
    cp.reply(
        &uid,
        json!({"getVariableResult": [{"attributeStatus": "Accepted", "attributeValue": "300",
               "component": {"name": "OCPPCommCtrlr"}, "variable": {"name": "HeartbeatInterval"}}]}),
    )
    .await
    .unwrap();
    let (status, body) = answer(asked).await.unwrap();
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["results"][0]["value"], "300");
    assert_eq!(body["results"][0]["attribute_status"], "Accepted");

    let asked = server.command(
        "CP201-CMD",
        "set-variables",
        Some(json!({"variables": [{"component": "OCPPCommCtrlr", "variable": "HeartbeatInterval", "value": "60"}]})),
    );
    let (uid, action, payload) = cp.expect_call().await.unwrap();
    assert_eq!(action, "SetVariables");
    assert_eq!(payload["setVariableData"][0]["attributeValue"], "60");
    cp.reply(
        &uid,
        json!({"setVariableResult": [{"attributeStatus": "RebootRequired",
               "component": {"name": "OCPPCommCtrlr"}, "variable": {"name": "HeartbeatInterval"}}]}),
    )
    .await
    .unwrap();
    assert_eq!(
        answer(asked).await.unwrap().1["results"][0]["attribute_status"],
        "RebootRequired"
    );

    let asked = server.command(
        "CP201-CMD",
        "get-base-report",
        Some(json!({"report_base": "FullInventory", "request_id": 77})),
    );
    let (uid, action, payload) = cp.expect_call().await.unwrap();
    assert_eq!(action, "GetBaseReport");
    assert_eq!(
        payload,
        json!({"requestId": 77, "reportBase": "FullInventory"})
    );
    cp.reply(&uid, json!({"status": "Accepted"})).await.unwrap();
    assert_eq!(answer(asked).await.unwrap().1["status"], "Accepted");

    let asked = server.command("CP201-CMD", "reset", Some(json!({"type": "Soft"})));
    let (uid, action, payload) = cp.expect_call().await.unwrap();
    assert_eq!(action, "Reset");
    assert_eq!(payload, json!({"type": "OnIdle"}));
    cp.reply(&uid, json!({"status": "Scheduled"}))
        .await
        .unwrap();
    assert_eq!(answer(asked).await.unwrap().1["status"], "Scheduled");

    let asked = server.command(
        "CP201-CMD",
        "trigger-message",
        Some(json!({"message": "TransactionEvent", "evse_id": 1})),
    );
    let (uid, action, payload) = cp.expect_call().await.unwrap();
    assert_eq!(action, "TriggerMessage");
    assert_eq!(
        payload,
        json!({"requestedMessage": "TransactionEvent", "evse": {"id": 1}})
    );
    cp.reply(&uid, json!({"status": "Accepted"})).await.unwrap();
    assert_eq!(answer(asked).await.unwrap().0, 200);

    // 1.6-only commands are refused before anything is sent, and vice versa.
    let (status, body) = server
        .api(
            "POST",
            "/api/stations/CP201-CMD/commands/change-configuration",
            Some(json!({"key": "HeartbeatInterval", "value": "60"})),
        )
        .await
        .unwrap();
    assert_eq!((status, body["error"].as_str()), (422, Some("unsupported")));
    let mut cp16 = server.connect("CP16-CMD").await.unwrap();
    cp16.boot().await.unwrap();
    let (status, body) = server
        .api(
            "POST",
            "/api/stations/CP16-CMD/commands/get-variables",
            Some(json!({"variables": [{"component": "C", "variable": "V"}]})),
        )
        .await
        .unwrap();
    assert_eq!((status, body["error"].as_str()), (422, Some("unsupported")));
    // The station saw no call in between: its next answer is to its own Heartbeat.
    assert!(cp.call("Heartbeat", json!({})).await.is_ok());
    server.stop().await;
}

#[tokio::test]
async fn malformed_messages_get_the_2_0_1_error_codes() {
    let db = sqlite();
    let server = TestServer::start(&settings(&db)).await.unwrap();
    let mut cp = server.connect_v201("CP201-BAD").await.unwrap();
    cp.boot201().await.unwrap();

    cp.send_text("this is not json").await.unwrap();
    assert_call_error(&cp.recv().await.unwrap(), "-1", "RpcFrameworkError");
    cp.send_text(r#"[2,17,"Heartbeat",{}]"#).await.unwrap();
    assert_call_error(&cp.recv().await.unwrap(), "-1", "RpcFrameworkError");
    cp.send_text(r#"[7,"id7","Heartbeat",{}]"#).await.unwrap();
    assert_call_error(&cp.recv().await.unwrap(), "id7", "MessageTypeNotSupported");

    let ok =
        json!({"timestamp": now(), "connectorStatus": "Available", "evseId": 1, "connectorId": 1});
    let mut missing = ok.clone();
    missing.as_object_mut().unwrap().remove("connectorStatus");
    let answer = cp.call_raw("StatusNotification", missing).await.unwrap();
    assert_call_error(
        &answer,
        answer[1].as_str().unwrap(),
        "OccurrenceConstraintViolation",
    );
    let mut wrong_type = ok.clone();
    wrong_type["evseId"] = json!("one");
    let answer = cp.call_raw("StatusNotification", wrong_type).await.unwrap();
    assert_call_error(
        &answer,
        answer[1].as_str().unwrap(),
        "TypeConstraintViolation",
    );
    let mut bad_enum = ok.clone();
    bad_enum["connectorStatus"] = json!("Charging");
    let answer = cp.call_raw("StatusNotification", bad_enum).await.unwrap();
    assert_call_error(
        &answer,
        answer[1].as_str().unwrap(),
        "PropertyConstraintViolation",
    );
    let answer = cp.call_raw("FlyToTheMoon", json!({})).await.unwrap();
    assert_call_error(&answer, answer[1].as_str().unwrap(), "NotImplemented");
    let answer = cp
        .call_raw("RequestStartTransaction", json!({}))
        .await
        .unwrap();
    assert_call_error(&answer, answer[1].as_str().unwrap(), "NotSupported");
    let answer = cp.call_raw("Heartbeat", json!([1])).await.unwrap();
    assert_call_error(&answer, answer[1].as_str().unwrap(), "FormatViolation");

    // The connection is still usable, and nothing was stored for the refused messages.
    cp.status201(1, 1, "Available").await.unwrap();
    server.stop().await;
}

#[tokio::test]
async fn stations_of_both_versions_look_the_same_to_the_operator() {
    for db in databases().await {
        let server = TestServer::start(&settings(&db)).await.unwrap();
        accepted_token(&server, "TAG-BOTH").await.unwrap();
        let mut cp16 = server.connect("CP-SIDE-16").await.unwrap();
        let mut cp201 = server.connect_v201("CP-SIDE-201").await.unwrap();
        cp16.boot().await.unwrap();
        cp201.boot201().await.unwrap();
        let tx16 = cp16.start(1, "TAG-BOTH", 1000, &now()).await.unwrap()["transactionId"]
            .as_i64()
            .unwrap();
        cp201
            .tx_event(
                "Started",
                "TX-SIDE",
                0,
                &now(),
                "Authorized",
                Some(1000),
                json!({"idToken": token("TAG-BOTH"), "evse": {"id": 1, "connectorId": 1}}),
            )
            .await
            .unwrap();
        cp16.stop(tx16, 2500, "Local").await.unwrap();
        cp201
            .tx_event(
                "Ended",
                "TX-SIDE",
                1,
                &now(),
                "StopAuthorized",
                Some(2500),
                json!({}),
            )
            .await
            .unwrap();

        let (_, list) = server
            .api("GET", "/api/transactions?id_token=TAG-BOTH", None)
            .await
            .unwrap();
        let items = list["items"].as_array().unwrap();
        assert_eq!(items.len(), 2, "{}: {list}", db.label);
        let keys = |t: &Value| {
            let mut k: Vec<String> = t.as_object().unwrap().keys().cloned().collect();
            k.sort();
            k
        };
        assert_eq!(keys(&items[0]), keys(&items[1]));
        for t in items {
            assert_eq!(t["state"], "Stopped");
            assert_eq!(t["energy_wh"], "1500");
            assert_eq!(t["stop_reason"], "Local");
            assert_eq!(t["authorization_status"], "Accepted");
            assert!(t["id"].is_i64());
        }
        let v16 = items
            .iter()
            .find(|t| t["station_id"] == "CP-SIDE-16")
            .unwrap();
        assert_eq!(v16["station_transaction_id"], Value::Null);
        assert_eq!(v16["id"], tx16);
        let v201 = items
            .iter()
            .find(|t| t["station_id"] == "CP-SIDE-201")
            .unwrap();
        assert_eq!(v201["station_transaction_id"], "TX-SIDE");
        server.stop().await;
    }
}

#[tokio::test]
async fn subprotocol_choice_and_2_0_1_station_identity_rules() {
    let db = sqlite();
    let server = TestServer::start(&settings(&db)).await.unwrap();
    let both = server
        .connect_with("CP-BOTH", &["ocpp1.6", "ocpp2.0.1"])
        .await
        .unwrap();
    assert_eq!(both.subprotocol.as_deref(), Some("ocpp2.0.1"));

    // OCPP 2.0.1: no ':' in the identity, at most 48 characters; 1.6 keeps its wider rule.
    let refused = Charger::try_connect(&server.ws_url("CP:201"), &["ocpp2.0.1"], None)
        .await
        .err()
        .expect("a ':' in a 2.0.1 identity is refused");
    assert_eq!(handshake_status(&refused), Some(400));
    let long = "X".repeat(49);
    let refused = Charger::try_connect(&server.ws_url(&long), &["ocpp2.0.1"], None)
        .await
        .err()
        .expect("a 49-character 2.0.1 identity is refused");
    assert_eq!(handshake_status(&refused), Some(400));
    let v16 = server.connect_with("CP:16", &["ocpp1.6"]).await.unwrap();
    assert_eq!(v16.subprotocol.as_deref(), Some("ocpp1.6"));
    server.stop().await;
}
