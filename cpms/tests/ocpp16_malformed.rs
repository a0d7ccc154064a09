//! Malformed messages from a 1.6 charger: each class gets the CALLERROR OCPP-J 1.6 §4.2.3 gives it,
//! as a well-formed 5-element frame, and the connection stays usable afterwards. A message above
//! the size limit ends the connection, and the station can come back.

mod common;

use common::*;
use futures_util::StreamExt;
use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::Message;

/// Checks that `frame` is a CALLERROR `[4, id, code, description, {details}]`.
fn assert_call_error(frame: &Value, unique_id: &str, code: &str) {
    let items = frame.as_array().expect("a frame is a JSON array");
    assert_eq!(items.len(), 5, "a CALLERROR has 5 elements: {frame}");
    assert_eq!(items[0], 4, "not a CALLERROR: {frame}");
    assert_eq!(items[1], unique_id, "unique id of {frame}");
    assert_eq!(items[2], code, "error code of {frame}");
    assert!(items[3].is_string(), "description of {frame}");
    assert!(items[4].is_object(), "details of {frame}");
}

/// The station's next Heartbeat is answered normally.
async fn still_usable(cp: &mut Charger) {
    let hb = cp.call("Heartbeat", json!({})).await.unwrap();
    assert!(hb["currentTime"].is_string(), "{hb}");
}

async fn booted(server: &TestServer, station_id: &str) -> Charger {
    let mut cp = server.connect(station_id).await.unwrap();
    assert_eq!(cp.boot().await.unwrap()["status"], "Accepted");
    cp
}

#[tokio::test]
async fn messages_that_are_not_json_arrays_are_formation_violations() {
    let db = sqlite();
    let server = TestServer::start(&settings(&db)).await.unwrap();
    let mut cp = booted(&server, "CP-NOTARRAY").await;

    cp.send_text("this is not json").await.unwrap();
    assert_call_error(&cp.recv().await.unwrap(), "-1", "FormationViolation");
    still_usable(&mut cp).await;

    cp.send_text("{}").await.unwrap();
    assert_call_error(&cp.recv().await.unwrap(), "-1", "FormationViolation");
    still_usable(&mut cp).await;

    cp.send_binary(br#"[2,"b1","Heartbeat",{}]"#).await.unwrap();
    assert_call_error(&cp.recv().await.unwrap(), "-1", "FormationViolation");
    still_usable(&mut cp).await;
    server.stop().await;
}

#[tokio::test]
async fn arrays_of_the_wrong_shape_are_protocol_errors() {
    let db = sqlite();
    let server = TestServer::start(&settings(&db)).await.unwrap();
    let mut cp = booted(&server, "CP-SHAPE").await;

    // A CALL without its payload: the id is readable and is echoed.
    cp.send_text(r#"[2,"id1","Heartbeat"]"#).await.unwrap();
    assert_call_error(&cp.recv().await.unwrap(), "id1", "ProtocolError");
    still_usable(&mut cp).await;

    // A unique id that is not a string cannot be echoed.
    cp.send_text(r#"[2,17,"Heartbeat",{}]"#).await.unwrap();
    assert_call_error(&cp.recv().await.unwrap(), "-1", "ProtocolError");
    still_usable(&mut cp).await;

    // 1.6 has no MessageTypeNotSupported (2.0.1 added it).
    cp.send_text(r#"[7,"id2","Heartbeat",{}]"#).await.unwrap();
    assert_call_error(&cp.recv().await.unwrap(), "id2", "ProtocolError");
    still_usable(&mut cp).await;
    server.stop().await;
}

#[tokio::test]
async fn unknown_and_wrong_way_actions_are_refused_by_name() {
    let db = sqlite();
    let server = TestServer::start(&settings(&db)).await.unwrap();
    let mut cp = booted(&server, "CP-ACTION").await;

    cp.send_text(r#"[2,"id3","FlyToTheMoon",{}]"#)
        .await
        .unwrap();
    assert_call_error(&cp.recv().await.unwrap(), "id3", "NotImplemented");
    still_usable(&mut cp).await;

    // Reset exists in 1.6, but only the Central System sends it.
    let answer = cp.call_raw("Reset", json!({"type": "Soft"})).await.unwrap();
    assert_call_error(&answer, answer[1].as_str().unwrap(), "NotSupported");
    still_usable(&mut cp).await;
    server.stop().await;
}

#[tokio::test]
async fn payloads_that_break_the_schema_get_the_matching_constraint_violation() {
    let db = sqlite();
    let server = TestServer::start(&settings(&db)).await.unwrap();
    let mut cp = booted(&server, "CP-PAYLOAD").await;
    let start = json!({"connectorId": 1, "idTag": "TAG", "meterStart": 0, "timestamp": now()});

    let cases: Vec<(&str, Value, &str)> = vec![
        (
            "StartTransaction",
            {
                let mut p = start.clone();
                p.as_object_mut().unwrap().remove("idTag");
                p
            },
            "OccurenceConstraintViolation",
        ),
        (
            "StartTransaction",
            {
                let mut p = start.clone();
                p["meterStart"] = json!("zero");
                p
            },
            "TypeConstraintViolation",
        ),
        (
            "StartTransaction",
            {
                let mut p = start.clone();
                p["idTag"] = json!("X".repeat(21));
                p
            },
            "PropertyConstraintViolation",
        ),
        ("StartTransaction", json!([]), "FormationViolation"),
        (
            "StatusNotification",
            json!({"connectorId": 1, "errorCode": "NoError", "status": "Flying"}),
            "PropertyConstraintViolation",
        ),
    ];
    for (action, payload, code) in cases {
        let answer = cp.call_raw(action, payload.clone()).await.unwrap();
        assert_call_error(&answer, answer[1].as_str().unwrap(), code);
        still_usable(&mut cp).await;
    }

    // None of the refused starts opened a transaction.
    let (_, list) = server
        .api("GET", "/api/transactions?station_id=CP-PAYLOAD", None)
        .await
        .unwrap();
    assert_eq!(list["total"], 0, "{list}");
    server.stop().await;
}

#[tokio::test]
async fn a_message_above_the_size_limit_closes_the_connection_and_the_station_can_return() {
    let db = sqlite();
    let mut s = settings(&db);
    s.ocpp.max_message_size = 1024;
    let server = TestServer::start(&s).await.unwrap();
    let mut cp = booted(&server, "CP-BIG").await;

    let big = json!([2, "big1", "DataTransfer", {"vendorId": "V", "data": "x".repeat(2048)}]);
    cp.send_text(&big.to_string()).await.unwrap();
    // Closed with 1009 (message too big, RFC 6455 §7.4.1); never an answer.
    let next = tokio::time::timeout(WAIT, cp.ws.next())
        .await
        .expect("the connection is neither answered nor closed");
    match next {
        Some(Ok(Message::Close(Some(frame)))) => assert_eq!(u16::from(frame.code), 1009),
        other => panic!("expected a close frame with code 1009, got {other:?}"),
    }

    let mut cp = booted(&server, "CP-BIG").await;
    still_usable(&mut cp).await;
    // A message under the limit is still fine.
    let small = cp
        .call(
            "DataTransfer",
            json!({"vendorId": "V", "data": "x".repeat(100)}),
        )
        .await
        .unwrap();
    assert!(small["status"].is_string(), "{small}");
    server.stop().await;
}
