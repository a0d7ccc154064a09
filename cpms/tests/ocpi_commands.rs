//! OCPI 2.2.1 Commands, CPO Receiver interface: a registered eMSP sends START_SESSION,
//! STOP_SESSION, RESERVE_NOW, CANCEL_RESERVATION and UNLOCK_CONNECTOR; real 1.6 and 2.0.1
//! chargers over websockets get the OCPP commands and answer; the eMSP gets its CommandResponse
//! at once and the CommandResult POSTed to its response_url. Every test runs on SQLite and (when
//! configured) PostgreSQL.

mod common;
mod ocpi_support;

use common::*;
use ocpi_support::{ocpi, sessions_emsp, token, PushEmsp, Received};
use serde_json::{json, Value};

/// Settings with a start window of `window` seconds.
fn commands_settings(db: &TestDb, window: u64) -> cpms::config::Settings {
    let mut s = settings(db);
    s.ocpi.allow_private_partner_urls = true;
    s.ocpi.country_code = "NL".into();
    s.ocpi.party_id = "CPO".into();
    s.ocpi.push_retry_base_seconds = 0.05;
    s.ocpi.push_retry_max_seconds = 1;
    s.ocpi.start_session_timeout_seconds = window;
    s
}

/// Location `location` with EVSE `evse_uid` = EVSE 1 of `station`.
async fn map_evse(server: &TestServer, location: &str, evse_uid: &str, station: &str) {
    let (status, body) = server
        .api(
            "POST",
            "/api/locations",
            Some(json!({
                "id": location, "name": "Central", "address": "Stationsplein 1",
                "city": "Amsterdam", "country": "NLD",
                "coordinates": {"latitude": "52.378900", "longitude": "4.900160"},
                "time_zone": "Europe/Amsterdam",
            })),
        )
        .await
        .unwrap();
    assert_eq!(status, 201, "{body}");
    let (status, body) = server
        .api(
            "PUT",
            &format!("/api/locations/{location}/evses/{evse_uid}"),
            Some(json!({"station_id": station, "evse_id": 1})),
        )
        .await
        .unwrap();
    assert_eq!(status, 201, "{body}");
}

/// An app token of party DE/`party`.
fn app_token(party: &str, uid: &str) -> Value {
    json!({
        "country_code": "DE", "party_id": party, "uid": uid, "type": "APP_USER",
        "contract_id": "DE-EMS-C00000001-1", "issuer": "Test eMSP", "valid": true,
        "whitelist": "NEVER", "last_updated": "2026-01-01T00:00:00Z",
    })
}

/// The path of the eMSP's response_url for command `n`.
fn result_path(n: u32) -> String {
    format!("/emsp/2.2.1/commands/result/{n}")
}

fn response_url(emsp: &PushEmsp, n: u32) -> String {
    format!("http://{}{}", emsp.addr, result_path(n))
}

/// POSTs a command with the eMSP's token C; returns HTTP status and body.
async fn send(server: &TestServer, emsp: &PushEmsp, command: &str, body: Value) -> (u16, Value) {
    let (status, _, body) = ocpi(
        server,
        "POST",
        &format!("/ocpi/2.2.1/commands/{command}"),
        Some(&token(&emsp.token_c)),
        Some(body),
    )
    .await;
    (status, body)
}

/// POSTs a command and checks the CommandResponse is `expected`; returns it.
async fn command(
    server: &TestServer,
    emsp: &PushEmsp,
    command: &str,
    body: Value,
    expected: &str,
) -> Value {
    let (status, answer) = send(server, emsp, command, body).await;
    assert_eq!(
        (status, answer["status_code"].clone()),
        (200, json!(1000)),
        "{command}: {answer}"
    );
    assert_eq!(answer["data"]["result"], expected, "{command}: {answer}");
    assert!(answer["data"]["timeout"].is_u64(), "{answer}");
    answer["data"].clone()
}

/// Waits for the CommandResult of command `n` and returns its result.
async fn result(emsp: &PushEmsp, n: u32) -> String {
    let path = result_path(n);
    let (_, r) = emsp
        .wait_for(
            0,
            &format!("the CommandResult at {path}"),
            |r: &Received| r.method == "POST" && r.path == path && r.accepted,
        )
        .await;
    assert_eq!(
        r.authorization.as_deref(),
        Some(token(ocpi_support::EMSP_TOKEN).as_str()),
        "the result carries the eMSP's token"
    );
    r.body["result"].as_str().unwrap_or_default().to_owned()
}

/// Plays the station: the next CALL must be `action`; answers it with `reply`; returns its
/// payload.
async fn station_answers(cs: &mut Charger, action: &str, reply: Value) -> Value {
    let (id, got, payload) = tokio::time::timeout(WAIT, cs.expect_call())
        .await
        .expect("a CALL within the wait")
        .unwrap();
    assert_eq!(got, action, "{payload}");
    cs.reply(&id, reply).await.unwrap();
    payload
}

async fn transaction(server: &TestServer, id: i64) -> Value {
    let (status, record) = server
        .api("GET", &format!("/api/transactions/{id}"), None)
        .await
        .unwrap();
    assert_eq!(status, 200, "{record}");
    record
}

fn start_session(emsp: &PushEmsp, n: u32, uid: &str, location: &str) -> Value {
    json!({
        "response_url": response_url(emsp, n), "token": app_token("EMS", uid),
        "location_id": location, "evse_uid": "E1", "authorization_reference": format!("REF-{n}"),
    })
}

#[tokio::test]
async fn start_and_stop_session_on_a_16_charger_belong_to_the_emsp() {
    for db in databases().await {
        let label = db.label;
        let server = TestServer::start(&commands_settings(&db, 30))
            .await
            .unwrap();
        let emsp = sessions_emsp(&server, "EMS").await;
        let other = sessions_emsp(&server, "OTH").await;
        let mut cs = server.connect("CS-C16").await.unwrap();
        cs.boot().await.unwrap();
        map_evse(&server, "L16", "E1", "CS-C16").await;

        let (_, _, details) = ocpi(
            &server,
            "GET",
            "/ocpi/2.2.1",
            Some(&token(&emsp.token_c)),
            None,
        )
        .await;
        assert!(
            details["data"]["endpoints"]
                .as_array()
                .unwrap()
                .iter()
                .any(|e| e["identifier"] == "commands" && e["role"] == "RECEIVER"),
            "{label}: {details}"
        );

        let answer = command(
            &server,
            &emsp,
            "START_SESSION",
            start_session(&emsp, 1, "APP-16", "L16"),
            "ACCEPTED",
        )
        .await;
        assert!(
            answer["timeout"].as_u64().unwrap() >= 30,
            "{label}: {answer}"
        );
        let asked = station_answers(
            &mut cs,
            "RemoteStartTransaction",
            json!({"status": "Accepted"}),
        )
        .await;
        assert_eq!(
            asked,
            json!({"connectorId": 1, "idTag": "APP-16"}),
            "{label}"
        );
        let started = cs.start(1, "APP-16", 1000, &now()).await.unwrap();
        assert_eq!(started["idTagInfo"]["status"], "Accepted", "{label}");
        let tx = started["transactionId"].as_i64().unwrap();
        assert_eq!(result(&emsp, 1).await, "ACCEPTED", "{label}");
        let record = transaction(&server, tx).await;
        assert_eq!(record["authorization_reference"], "REF-1", "{label}");

        // The Session is the eMSP's: pushed to it with the command's auth method and reference.
        let session_path = format!("/emsp/2.2.1/sessions/NL/CPO/{tx}");
        let (_, put) = emsp
            .wait_for(0, "the Session PUT", |r| {
                r.method == "PUT" && r.path == session_path
            })
            .await;
        assert_eq!(put.body["auth_method"], "COMMAND", "{label}: {}", put.body);
        assert_eq!(put.body["authorization_reference"], "REF-1", "{label}");
        assert_eq!(put.body["cdr_token"]["uid"], "APP-16", "{label}");

        // Another eMSP cannot stop it: its session is unknown to it.
        let stop =
            |n| json!({"response_url": response_url(&emsp, n), "session_id": tx.to_string()});
        command(&server, &other, "STOP_SESSION", stop(2), "UNKNOWN_SESSION").await;
        command(
            &server,
            &emsp,
            "STOP_SESSION",
            json!({"response_url": response_url(&emsp, 2), "session_id": "999999"}),
            "UNKNOWN_SESSION",
        )
        .await;

        command(&server, &emsp, "STOP_SESSION", stop(3), "ACCEPTED").await;
        let asked = station_answers(
            &mut cs,
            "RemoteStopTransaction",
            json!({"status": "Accepted"}),
        )
        .await;
        assert_eq!(asked, json!({"transactionId": tx}), "{label}");
        cs.stop(tx, 4000, "Remote").await.unwrap();
        assert_eq!(result(&emsp, 3).await, "ACCEPTED", "{label}");
        assert!(
            other
                .received()
                .iter()
                .all(|r| !r.path.contains("commands")),
            "{label}: the other eMSP got a result"
        );
        server.stop().await;
    }
}

#[tokio::test]
async fn start_and_stop_session_on_a_201_charger_follow_the_remote_start_id() {
    for db in databases().await {
        let label = db.label;
        let server = TestServer::start(&commands_settings(&db, 30))
            .await
            .unwrap();
        let emsp = sessions_emsp(&server, "EMS").await;
        let mut cs = server.connect_v201("CS-C201").await.unwrap();
        cs.boot201().await.unwrap();
        map_evse(&server, "L201", "E1", "CS-C201").await;

        command(
            &server,
            &emsp,
            "START_SESSION",
            start_session(&emsp, 1, "APP-201", "L201"),
            "ACCEPTED",
        )
        .await;
        let asked = station_answers(
            &mut cs,
            "RequestStartTransaction",
            json!({"status": "Accepted"}),
        )
        .await;
        assert_eq!(asked["idToken"]["idToken"], "APP-201", "{label}: {asked}");
        assert_eq!(asked["evseId"], 1, "{label}: {asked}");
        let remote_start_id = asked["remoteStartId"].as_i64().unwrap();
        let answer = cs
            .tx_event(
                "Started",
                "TX-201",
                0,
                &now(),
                "RemoteStart",
                Some(1000),
                json!({
                    "idToken": {"idToken": "APP-201", "type": "Central"},
                    "evse": {"id": 1, "connectorId": 1},
                    "transactionInfo": {"remoteStartId": remote_start_id},
                }),
            )
            .await
            .unwrap();
        assert_eq!(answer["idTokenInfo"]["status"], "Accepted", "{label}");
        assert_eq!(result(&emsp, 1).await, "ACCEPTED", "{label}");
        let (_, list) = server
            .api("GET", "/api/transactions?station_id=CS-C201", None)
            .await
            .unwrap();
        let tx = &list["items"][0];
        assert_eq!(tx["authorization_reference"], "REF-1", "{label}: {list}");
        let tx_id = tx["id"].as_i64().unwrap();

        command(
            &server,
            &emsp,
            "STOP_SESSION",
            json!({"response_url": response_url(&emsp, 2), "session_id": tx_id.to_string()}),
            "ACCEPTED",
        )
        .await;
        let asked = station_answers(
            &mut cs,
            "RequestStopTransaction",
            json!({"status": "Accepted"}),
        )
        .await;
        assert_eq!(asked, json!({"transactionId": "TX-201"}), "{label}");
        cs.tx_event(
            "Ended",
            "TX-201",
            1,
            &now(),
            "RemoteStop",
            Some(3000),
            json!({"transactionInfo": {"stoppedReason": "Remote"}}),
        )
        .await
        .unwrap();
        assert_eq!(result(&emsp, 2).await, "ACCEPTED", "{label}");
        server.stop().await;
    }
}

#[tokio::test]
async fn a_refused_start_is_rejected_and_an_unstarted_one_fails_after_the_window() {
    for db in databases().await {
        let label = db.label;
        let server = TestServer::start(&commands_settings(&db, 1)).await.unwrap();
        let emsp = sessions_emsp(&server, "EMS").await;
        let mut cs16 = server.connect("CS-F16").await.unwrap();
        cs16.boot().await.unwrap();
        map_evse(&server, "LF16", "E1", "CS-F16").await;
        let mut cs201 = server.connect_v201("CS-F201").await.unwrap();
        cs201.boot201().await.unwrap();
        map_evse(&server, "LF201", "E1", "CS-F201").await;

        // The charger refuses: REJECTED.
        command(
            &server,
            &emsp,
            "START_SESSION",
            start_session(&emsp, 1, "APP-F1", "LF16"),
            "ACCEPTED",
        )
        .await;
        station_answers(
            &mut cs16,
            "RemoteStartTransaction",
            json!({"status": "Rejected"}),
        )
        .await;
        assert_eq!(result(&emsp, 1).await, "REJECTED", "{label}");
        command(
            &server,
            &emsp,
            "START_SESSION",
            start_session(&emsp, 2, "APP-F2", "LF201"),
            "ACCEPTED",
        )
        .await;
        station_answers(
            &mut cs201,
            "RequestStartTransaction",
            json!({"status": "Rejected"}),
        )
        .await;
        assert_eq!(result(&emsp, 2).await, "REJECTED", "{label}");

        // The charger accepts but no transaction begins within the window: FAILED, and the
        // token no longer opens a transaction of the eMSP.
        command(
            &server,
            &emsp,
            "START_SESSION",
            start_session(&emsp, 3, "APP-F3", "LF16"),
            "ACCEPTED",
        )
        .await;
        station_answers(
            &mut cs16,
            "RemoteStartTransaction",
            json!({"status": "Accepted"}),
        )
        .await;
        assert_eq!(result(&emsp, 3).await, "FAILED", "{label}");
        let late = cs16
            .call("Authorize", json!({"idTag": "APP-F3"}))
            .await
            .unwrap();
        assert_eq!(late["idTagInfo"]["status"], "Invalid", "{label}: {late}");
        command(
            &server,
            &emsp,
            "START_SESSION",
            start_session(&emsp, 4, "APP-F4", "LF201"),
            "ACCEPTED",
        )
        .await;
        station_answers(
            &mut cs201,
            "RequestStartTransaction",
            json!({"status": "Accepted"}),
        )
        .await;
        assert_eq!(result(&emsp, 4).await, "FAILED", "{label}");
        server.stop().await;
    }
}

#[tokio::test]
async fn reservations_and_unlocks_reach_both_charger_versions() {
    for db in databases().await {
        let label = db.label;
        let server = TestServer::start(&commands_settings(&db, 30))
            .await
            .unwrap();
        let emsp = sessions_emsp(&server, "EMS").await;
        let other = sessions_emsp(&server, "OTH").await;
        let mut cs16 = server.connect("CS-R16").await.unwrap();
        cs16.boot().await.unwrap();
        map_evse(&server, "LR16", "E1", "CS-R16").await;
        let mut cs201 = server.connect_v201("CS-R201").await.unwrap();
        cs201.boot201().await.unwrap();
        map_evse(&server, "LR201", "E1", "CS-R201").await;
        let expiry = (chrono::Utc::now() + chrono::Duration::hours(1))
            .to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
        let reserve = |n, id: &str, location: &str| {
            json!({
                "response_url": response_url(&emsp, n), "token": app_token("EMS", "APP-R"),
                "expiry_date": expiry, "reservation_id": id, "location_id": location,
                "evse_uid": "E1",
            })
        };
        let cancel =
            |n, id: &str| json!({"response_url": response_url(&emsp, n), "reservation_id": id});

        // 1.6: reserved, then cancelled by the eMSP's own reservation id.
        command(
            &server,
            &emsp,
            "RESERVE_NOW",
            reserve(1, "RES-1", "LR16"),
            "ACCEPTED",
        )
        .await;
        let asked = station_answers(&mut cs16, "ReserveNow", json!({"status": "Accepted"})).await;
        assert_eq!(asked["connectorId"], 1, "{label}: {asked}");
        assert_eq!(asked["idTag"], "APP-R", "{label}: {asked}");
        let station_reservation = asked["reservationId"].clone();
        assert_eq!(result(&emsp, 1).await, "ACCEPTED", "{label}");
        // Another eMSP cannot cancel it: the id is unknown to it.
        command(
            &server,
            &other,
            "CANCEL_RESERVATION",
            cancel(2, "RES-1"),
            "REJECTED",
        )
        .await;
        command(
            &server,
            &emsp,
            "CANCEL_RESERVATION",
            cancel(3, "RES-1"),
            "ACCEPTED",
        )
        .await;
        let asked = station_answers(
            &mut cs16,
            "CancelReservation",
            json!({"status": "Accepted"}),
        )
        .await;
        assert_eq!(asked["reservationId"], station_reservation, "{label}");
        assert_eq!(result(&emsp, 3).await, "ACCEPTED", "{label}");
        command(
            &server,
            &emsp,
            "CANCEL_RESERVATION",
            cancel(4, "RES-1"),
            "REJECTED",
        )
        .await;

        // A reservation the station no longer knows: UNKNOWN_RESERVATION.
        command(
            &server,
            &emsp,
            "RESERVE_NOW",
            reserve(5, "RES-2", "LR16"),
            "ACCEPTED",
        )
        .await;
        station_answers(&mut cs16, "ReserveNow", json!({"status": "Accepted"})).await;
        assert_eq!(result(&emsp, 5).await, "ACCEPTED", "{label}");
        command(
            &server,
            &emsp,
            "CANCEL_RESERVATION",
            cancel(6, "RES-2"),
            "ACCEPTED",
        )
        .await;
        station_answers(
            &mut cs16,
            "CancelReservation",
            json!({"status": "Rejected"}),
        )
        .await;
        assert_eq!(result(&emsp, 6).await, "UNKNOWN_RESERVATION", "{label}");

        // 1.6 unlock.
        let unlock = |n, location: &str| {
            json!({"response_url": response_url(&emsp, n), "location_id": location,
                   "evse_uid": "E1", "connector_id": "1"})
        };
        command(
            &server,
            &emsp,
            "UNLOCK_CONNECTOR",
            unlock(7, "LR16"),
            "ACCEPTED",
        )
        .await;
        let asked =
            station_answers(&mut cs16, "UnlockConnector", json!({"status": "Unlocked"})).await;
        assert_eq!(asked, json!({"connectorId": 1}), "{label}");
        assert_eq!(result(&emsp, 7).await, "ACCEPTED", "{label}");

        // 2.0.1: an occupied EVSE, a failed unlock.
        command(
            &server,
            &emsp,
            "RESERVE_NOW",
            reserve(8, "RES-3", "LR201"),
            "ACCEPTED",
        )
        .await;
        let asked = station_answers(&mut cs201, "ReserveNow", json!({"status": "Occupied"})).await;
        assert_eq!(asked["idToken"]["idToken"], "APP-R", "{label}: {asked}");
        assert_eq!(asked["evseId"], 1, "{label}: {asked}");
        assert_eq!(result(&emsp, 8).await, "EVSE_OCCUPIED", "{label}");
        command(
            &server,
            &emsp,
            "UNLOCK_CONNECTOR",
            unlock(9, "LR201"),
            "ACCEPTED",
        )
        .await;
        let asked = station_answers(
            &mut cs201,
            "UnlockConnector",
            json!({"status": "UnlockFailed"}),
        )
        .await;
        assert_eq!(asked, json!({"evseId": 1, "connectorId": 1}), "{label}");
        assert_eq!(result(&emsp, 9).await, "FAILED", "{label}");
        server.stop().await;
    }
}

#[tokio::test]
async fn bad_commands_are_refused_and_offline_stations_rejected() {
    for db in databases().await {
        let label = db.label;
        let server = TestServer::start(&commands_settings(&db, 30))
            .await
            .unwrap();
        let emsp = sessions_emsp(&server, "EMS").await;
        let mut cs = server.connect("CS-B1").await.unwrap();
        cs.boot().await.unwrap();
        map_evse(&server, "LB", "E1", "CS-B1").await;

        // Not a StartSession object, a bad response_url, a bad id: 2001 with HTTP 400.
        for body in [
            json!({"response_url": response_url(&emsp, 1), "location_id": "LB"}),
            json!({"response_url": "not-a-url", "token": app_token("EMS", "APP-B"),
                   "location_id": "LB"}),
            json!({"response_url": response_url(&emsp, 1), "token": app_token("EMS", "APP-B"),
                   "location_id": "x".repeat(40)}),
        ] {
            let (status, answer) = send(&server, &emsp, "START_SESSION", body.clone()).await;
            assert_eq!(
                (status, answer["status_code"].clone()),
                (400, json!(2001)),
                "{label}: {body} -> {answer}"
            );
        }
        // No token: 401.
        let (status, _, _) = ocpi(
            &server,
            "POST",
            "/ocpi/2.2.1/commands/START_SESSION",
            None,
            Some(json!({})),
        )
        .await;
        assert_eq!(status, 401, "{label}");
        // Not a command we know.
        command(&server, &emsp, "SELF_DESTRUCT", json!({}), "NOT_SUPPORTED").await;
        // An unknown Location or EVSE, another party's token.
        command(
            &server,
            &emsp,
            "START_SESSION",
            start_session(&emsp, 2, "APP-B", "NOWHERE"),
            "REJECTED",
        )
        .await;
        let mut foreign = start_session(&emsp, 3, "APP-B", "LB");
        foreign["token"] = app_token("OTH", "APP-B");
        command(&server, &emsp, "START_SESSION", foreign, "REJECTED").await;

        // The station goes offline: REJECTED at once, nothing sent.
        cs.close().await.unwrap();
        server.wait_connected("CS-B1", false).await.unwrap();
        let answer = command(
            &server,
            &emsp,
            "START_SESSION",
            start_session(&emsp, 4, "APP-B", "LB"),
            "REJECTED",
        )
        .await;
        assert!(
            answer["message"][0]["text"]
                .as_str()
                .is_some_and(|t| t.contains("offline")),
            "{label}: {answer}"
        );
        command(
            &server,
            &emsp,
            "UNLOCK_CONNECTOR",
            json!({"response_url": response_url(&emsp, 5), "location_id": "LB",
                   "evse_uid": "E1", "connector_id": "1"}),
            "REJECTED",
        )
        .await;
        server.stop().await;
    }
}

#[tokio::test]
async fn a_start_session_pending_across_a_restart_gets_its_result_once() {
    for db in databases().await {
        let label = db.label;
        let s = commands_settings(&db, 30);
        let server = TestServer::start(&s).await.unwrap();
        let emsp = sessions_emsp(&server, "EMS").await;
        let mut cs = server.connect("CS-P1").await.unwrap();
        cs.boot().await.unwrap();
        map_evse(&server, "LP", "E1", "CS-P1").await;
        command(
            &server,
            &emsp,
            "START_SESSION",
            start_session(&emsp, 1, "APP-P", "LP"),
            "ACCEPTED",
        )
        .await;
        station_answers(
            &mut cs,
            "RemoteStartTransaction",
            json!({"status": "Accepted"}),
        )
        .await;
        server.stop().await;

        // After the restart the charger comes back and starts the transaction it accepted.
        let server = TestServer::start(&s).await.unwrap();
        let mut cs = server.connect("CS-P1").await.unwrap();
        cs.boot().await.unwrap();
        let started = cs.start(1, "APP-P", 0, &now()).await.unwrap();
        assert_eq!(started["idTagInfo"]["status"], "Accepted", "{label}");
        let tx = started["transactionId"].as_i64().unwrap();
        assert_eq!(result(&emsp, 1).await, "ACCEPTED", "{label}");
        assert_eq!(
            transaction(&server, tx).await["authorization_reference"],
            "REF-1",
            "{label}"
        );
        // Exactly one result: one outbox row for the command, delivered, and one POST.
        let (_, outbox) = server
            .api("GET", "/api/ocpi/outbox?limit=100", None)
            .await
            .unwrap();
        let rows: Vec<&Value> = outbox["items"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|r| r["module"] == "commands")
            .collect();
        assert_eq!(rows.len(), 1, "{label}: {outbox}");
        let posts = emsp
            .received()
            .iter()
            .filter(|r| r.path == result_path(1))
            .count();
        assert_eq!(posts, 1, "{label}");
        server.stop().await;
    }
}

#[tokio::test]
async fn a_station_that_never_answers_gives_timeout() {
    for db in databases().await {
        let label = db.label;
        let mut s = commands_settings(&db, 1);
        // Gateway::call gives up after three response timeouts.
        s.ocpp.response_timeout = 1;
        let server = TestServer::start(&s).await.unwrap();
        let emsp = sessions_emsp(&server, "EMS").await;
        let mut cs = server.connect("CS-T1").await.unwrap();
        cs.boot().await.unwrap();
        map_evse(&server, "LT", "E1", "CS-T1").await;

        command(
            &server,
            &emsp,
            "UNLOCK_CONNECTOR",
            json!({"response_url": response_url(&emsp, 1), "location_id": "LT",
                   "evse_uid": "E1", "connector_id": "1"}),
            "ACCEPTED",
        )
        .await;
        let (_, action, _) = cs.expect_call().await.unwrap();
        assert_eq!(action, "UnlockConnector", "{label}");
        assert_eq!(result(&emsp, 1).await, "TIMEOUT", "{label}");

        // A START_SESSION without an answer waits out its window too: nothing started, TIMEOUT.
        command(
            &server,
            &emsp,
            "START_SESSION",
            start_session(&emsp, 2, "APP-T", "LT"),
            "ACCEPTED",
        )
        .await;
        let (_, action, _) = cs.expect_call().await.unwrap();
        assert_eq!(action, "RemoteStartTransaction", "{label}");
        assert_eq!(result(&emsp, 2).await, "TIMEOUT", "{label}");
        server.stop().await;
    }
}
