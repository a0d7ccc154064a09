//! The websocket handshake as a charger meets it: subprotocol negotiation, Basic auth (security
//! profile 1), the unknown-stations policy, and one connection per station.

mod common;

use common::*;
use cpms::config::UnknownStations;
use futures_util::StreamExt;
use serde_json::json;
use tokio_tungstenite::tungstenite::Message;

#[tokio::test]
async fn ocpp1_6_is_selected_from_an_offer_that_includes_it() {
    let db = sqlite();
    let server = TestServer::start(&settings(&db)).await.unwrap();
    let mut cp = Charger::connect(&server.ws_url("CP-OFFER"), &["ocpp1.5", "ocpp1.6"], None)
        .await
        .unwrap();
    assert_eq!(cp.subprotocol.as_deref(), Some("ocpp1.6"));
    assert_eq!(cp.boot().await.unwrap()["status"], "Accepted");
    server.stop().await;
}

#[tokio::test]
async fn without_a_common_subprotocol_the_handshake_completes_and_the_server_closes_at_once() {
    let db = sqlite();
    let server = TestServer::start(&settings(&db)).await.unwrap();
    for (station, offer) in [("CP-V20", &["ocpp2.0"][..]), ("CP-NOOFFER", &[][..])] {
        let mut answer = raw_handshake(server.server.ocpp_addr, &format!("/ocpp/{station}"), offer)
            .await
            .unwrap();
        assert_eq!(answer.status, 101, "{station}");
        assert_eq!(answer.header("sec-websocket-protocol"), None, "{station}");
        let ws = answer.ws.as_mut().unwrap();
        // OCPP-J 1.6 §3.1.2: without an agreed subprotocol the CSMS must not go on.
        match tokio::time::timeout(WAIT, ws.next()).await.unwrap() {
            Some(Ok(Message::Close(Some(frame)))) => {
                assert_eq!(u16::from(frame.code), 1002, "{station}: {frame:?}")
            }
            other => panic!("{station}: expected a close frame, got {other:?}"),
        }
        // The refused connection left nothing behind.
        let (status, _) = server
            .api("GET", &format!("/api/stations/{station}"), None)
            .await
            .unwrap();
        assert_eq!(status, 404, "{station}");
    }
    server.stop().await;
}

#[tokio::test]
async fn a_station_with_a_password_must_present_it_in_basic_auth() {
    let db = sqlite();
    let server = TestServer::start(&settings(&db)).await.unwrap();
    let (status, created) = server
        .api(
            "POST",
            "/api/stations",
            Some(json!({"id": "CP-PW", "password": "s3cret-pass"})),
        )
        .await
        .unwrap();
    assert_eq!(status, 201, "{created}");
    assert_eq!(created["has_password"], true);
    let url = server.ws_url("CP-PW");
    let refused = |basic: Option<(&'static str, &'static str)>| {
        let url = url.clone();
        async move {
            let err = Charger::try_connect(&url, &["ocpp1.6"], basic)
                .await
                .err()
                .unwrap_or_else(|| panic!("{basic:?} was let in"));
            handshake_status(&err)
        }
    };

    assert_eq!(refused(None).await, Some(401), "no credentials");
    assert_eq!(
        refused(Some(("CP-PW", "wrong-pass"))).await,
        Some(401),
        "wrong password"
    );
    // The right password for another user name: the user must be the station id.
    assert_eq!(
        refused(Some(("CP-OTHER", "s3cret-pass"))).await,
        Some(401),
        "user differs from the station id"
    );

    let mut cp = Charger::connect(&url, &["ocpp1.6"], Some(("CP-PW", "s3cret-pass")))
        .await
        .unwrap();
    assert_eq!(cp.boot().await.unwrap()["status"], "Accepted");
    cp.close().await.unwrap();

    let (status, updated) = server
        .api(
            "PATCH",
            "/api/stations/CP-PW",
            Some(json!({"password": "new"})),
        )
        .await
        .unwrap();
    assert_eq!(status, 200, "{updated}");
    assert_eq!(
        refused(Some(("CP-PW", "s3cret-pass"))).await,
        Some(401),
        "old password after the change"
    );
    let mut cp = Charger::connect(&url, &["ocpp1.6"], Some(("CP-PW", "new")))
        .await
        .unwrap();
    assert_eq!(cp.boot().await.unwrap()["status"], "Accepted");
    server.stop().await;
}

#[tokio::test]
async fn with_the_reject_policy_only_stations_created_by_the_operator_connect() {
    let db = sqlite();
    let mut s = settings(&db);
    s.ocpp.unknown_stations = UnknownStations::Reject;
    let server = TestServer::start(&s).await.unwrap();

    let err = Charger::try_connect(&server.ws_url("CP-STRANGER"), &["ocpp1.6"], None)
        .await
        .err()
        .expect("an unknown station was let in");
    assert_eq!(handshake_status(&err), Some(401));
    let (status, _) = server
        .api("GET", "/api/stations/CP-STRANGER", None)
        .await
        .unwrap();
    assert_eq!(status, 404, "a refused station is not stored");

    let (status, _) = server
        .api("POST", "/api/stations", Some(json!({"id": "CP-KNOWN"})))
        .await
        .unwrap();
    assert_eq!(status, 201);
    let mut cp = server.connect("CP-KNOWN").await.unwrap();
    assert_eq!(cp.boot().await.unwrap()["status"], "Accepted");
    server.stop().await;
}

#[tokio::test]
async fn with_the_pending_policy_an_unknown_station_waits_until_the_operator_accepts_it() {
    let db = sqlite();
    let mut s = settings(&db);
    s.ocpp.unknown_stations = UnknownStations::Pending;
    let server = TestServer::start(&s).await.unwrap();

    let mut cp = server.connect("CP-NEW").await.unwrap();
    let boot = cp.boot().await.unwrap();
    assert_eq!(boot["status"], "Pending");
    assert_eq!(boot["interval"], s.ocpp.boot_retry_interval);
    assert_eq!(boot["interval"], 60);
    let (_, station) = server
        .api("GET", "/api/stations/CP-NEW", None)
        .await
        .unwrap();
    assert_eq!(station["registration_status"], "Pending");
    assert_eq!(station["vendor"], "TestVendor");

    let (status, updated) = server
        .api(
            "PATCH",
            "/api/stations/CP-NEW",
            Some(json!({"registration_status": "Accepted"})),
        )
        .await
        .unwrap();
    assert_eq!(status, 200, "{updated}");
    assert_eq!(updated["registration_status"], "Accepted");
    // The station retries its boot on the same connection.
    let boot = cp.boot().await.unwrap();
    assert_eq!(boot["status"], "Accepted");
    assert_eq!(boot["interval"], s.ocpp.heartbeat_interval);
    server.stop().await;
}

#[tokio::test]
async fn a_second_connection_replaces_the_first() {
    let db = sqlite();
    let server = TestServer::start(&settings(&db)).await.unwrap();
    let mut first = server.connect("CP-TWICE").await.unwrap();
    first.boot().await.unwrap();

    let mut second = server.connect("CP-TWICE").await.unwrap();
    assert_eq!(first.closed().await.unwrap(), Some(1000));
    second.boot().await.unwrap();
    let hb = second.call("Heartbeat", json!({})).await.unwrap();
    assert!(hb["currentTime"].is_string());
    let (_, station) = server
        .api("GET", "/api/stations/CP-TWICE", None)
        .await
        .unwrap();
    assert_eq!(station["connected"], true, "{station}");

    // Commands reach the connection that replaced the first.
    let task = server.command("CP-TWICE", "clear-cache", None);
    let (id, action, _) = second.expect_call().await.unwrap();
    assert_eq!(action, "ClearCache");
    second
        .reply(&id, json!({"status": "Accepted"}))
        .await
        .unwrap();
    assert_eq!(
        answer(task).await.unwrap(),
        (200, json!({"status": "Accepted"}))
    );

    second.close().await.unwrap();
    server.wait_connected("CP-TWICE", false).await.unwrap();
    server.stop().await;
}
