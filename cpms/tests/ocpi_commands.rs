//! OCPI 2.2.1 Commands, CPO Receiver interface: a registered eMSP sends START_SESSION,
//! STOP_SESSION, RESERVE_NOW, CANCEL_RESERVATION and UNLOCK_CONNECTOR; real 1.6 and 2.0.1
//! chargers over websockets get the OCPP commands and answer; the eMSP gets its CommandResponse
//! at once and the CommandResult POSTed to its response_url. Every test runs on SQLite and (when
//! configured) PostgreSQL.

mod common;
mod ocpi_support;

use common::*;
use ocpi_support::{
    assert_lists_endpoint, booted, booted201_at, booted_at, cpo_settings, ocpi, sessions_emsp,
    token, PushEmsp, Received,
};
use serde_json::{json, Value};

/// Settings with a start window of `window` seconds.
fn commands_settings(db: &TestDb, window: u64) -> cpms::config::Settings {
    let mut s = cpo_settings(db);
    s.ocpi.start_session_timeout_seconds = window;
    s
}

/// A server with `settings` and the registered eMSP DE/EMS.
async fn start_with_emsp(settings: &cpms::config::Settings) -> (TestServer, PushEmsp) {
    let server = TestServer::start(settings).await.unwrap();
    let emsp = sessions_emsp(&server, "EMS").await;
    (server, emsp)
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

/// A StopSession of `session_id` answered at the eMSP's response_url `n`.
fn stop_session(emsp: &PushEmsp, n: u32, session_id: &str) -> Value {
    json!({"response_url": response_url(emsp, n), "session_id": session_id})
}

/// An UnlockConnector of connector 1 of EVSE E1 at `location`, answered at response_url `n`.
fn unlock_connector(emsp: &PushEmsp, n: u32, location: &str) -> Value {
    json!({"response_url": response_url(emsp, n), "location_id": location,
           "evse_uid": "E1", "connector_id": "1"})
}

/// The eMSP sends `name` with `body`, which is ACCEPTED; the station `cs` must then get
/// `action`, which it answers with `reply`. Returns the station's request payload.
async fn relayed(
    server: &TestServer,
    emsp: &PushEmsp,
    name: &str,
    body: Value,
    cs: &mut Charger,
    action: &str,
    reply: Value,
) -> Value {
    command(server, emsp, name, body, "ACCEPTED").await;
    station_answers(cs, action, reply).await
}

#[tokio::test]
async fn start_and_stop_session_on_a_16_charger_belong_to_the_emsp() {
    for db in databases().await {
        let label = db.label;
        let (server, emsp) = start_with_emsp(&commands_settings(&db, 30)).await;
        let other = sessions_emsp(&server, "OTH").await;
        let mut cs = booted_at(&server, "CS-C16", "L16").await;

        assert_lists_endpoint(&server, &emsp.token_c, "commands", "RECEIVER", label).await;

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
        let stop = |n| stop_session(&emsp, n, &tx.to_string());
        command(&server, &other, "STOP_SESSION", stop(2), "UNKNOWN_SESSION").await;
        command(
            &server,
            &emsp,
            "STOP_SESSION",
            stop_session(&emsp, 2, "999999"),
            "UNKNOWN_SESSION",
        )
        .await;

        let asked = relayed(
            &server,
            &emsp,
            "STOP_SESSION",
            stop(3),
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
        let (server, emsp) = start_with_emsp(&commands_settings(&db, 30)).await;
        let mut cs = booted201_at(&server, "CS-C201", "L201").await;

        let asked = relayed(
            &server,
            &emsp,
            "START_SESSION",
            start_session(&emsp, 1, "APP-201", "L201"),
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

        let asked = relayed(
            &server,
            &emsp,
            "STOP_SESSION",
            stop_session(&emsp, 2, &tx_id.to_string()),
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
        let (server, emsp) = start_with_emsp(&commands_settings(&db, 1)).await;
        let cs16 = booted_at(&server, "CS-F16", "LF16").await;
        let cs201 = booted201_at(&server, "CS-F201", "LF201").await;
        let mut chargers = [
            (cs16, "LF16", "RemoteStartTransaction"),
            (cs201, "LF201", "RequestStartTransaction"),
        ];

        // The charger refuses: REJECTED. Then the charger accepts but no transaction begins
        // within the window: FAILED, and the token no longer opens a transaction of the eMSP.
        let mut n = 0;
        for (answer, outcome) in [("Rejected", "REJECTED"), ("Accepted", "FAILED")] {
            for (cs, location, action) in &mut chargers {
                n += 1;
                let uid = format!("APP-F{n}");
                let start = start_session(&emsp, n, &uid, location);
                let reply = json!({"status": answer});
                relayed(&server, &emsp, "START_SESSION", start, cs, action, reply).await;
                assert_eq!(result(&emsp, n).await, outcome, "{label}: {action}");
                if outcome == "FAILED" && *location == "LF16" {
                    let late = cs.call("Authorize", json!({"idTag": uid})).await.unwrap();
                    assert_eq!(late["idTagInfo"]["status"], "Invalid", "{label}: {late}");
                }
            }
        }
        server.stop().await;
    }
}

#[tokio::test]
async fn reservations_and_unlocks_reach_both_charger_versions() {
    for db in databases().await {
        let label = db.label;
        let (server, emsp) = start_with_emsp(&commands_settings(&db, 30)).await;
        let other = sessions_emsp(&server, "OTH").await;
        let mut cs16 = booted_at(&server, "CS-R16", "LR16").await;
        let mut cs201 = booted201_at(&server, "CS-R201", "LR201").await;
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
        let asked = relayed(
            &server,
            &emsp,
            "RESERVE_NOW",
            reserve(1, "RES-1", "LR16"),
            &mut cs16,
            "ReserveNow",
            json!({"status": "Accepted"}),
        )
        .await;
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
        let asked = relayed(
            &server,
            &emsp,
            "CANCEL_RESERVATION",
            cancel(3, "RES-1"),
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
        relayed(
            &server,
            &emsp,
            "RESERVE_NOW",
            reserve(5, "RES-2", "LR16"),
            &mut cs16,
            "ReserveNow",
            json!({"status": "Accepted"}),
        )
        .await;
        assert_eq!(result(&emsp, 5).await, "ACCEPTED", "{label}");
        relayed(
            &server,
            &emsp,
            "CANCEL_RESERVATION",
            cancel(6, "RES-2"),
            &mut cs16,
            "CancelReservation",
            json!({"status": "Rejected"}),
        )
        .await;
        assert_eq!(result(&emsp, 6).await, "UNKNOWN_RESERVATION", "{label}");

        // 1.6 unlock.
        let asked = relayed(
            &server,
            &emsp,
            "UNLOCK_CONNECTOR",
            unlock_connector(&emsp, 7, "LR16"),
            &mut cs16,
            "UnlockConnector",
            json!({"status": "Unlocked"}),
        )
        .await;
        assert_eq!(asked, json!({"connectorId": 1}), "{label}");
        assert_eq!(result(&emsp, 7).await, "ACCEPTED", "{label}");

        // 2.0.1: an occupied EVSE, a failed unlock.
        let asked = relayed(
            &server,
            &emsp,
            "RESERVE_NOW",
            reserve(8, "RES-3", "LR201"),
            &mut cs201,
            "ReserveNow",
            json!({"status": "Occupied"}),
        )
        .await;
        assert_eq!(asked["idToken"]["idToken"], "APP-R", "{label}: {asked}");
        assert_eq!(asked["evseId"], 1, "{label}: {asked}");
        assert_eq!(result(&emsp, 8).await, "EVSE_OCCUPIED", "{label}");
        let asked = relayed(
            &server,
            &emsp,
            "UNLOCK_CONNECTOR",
            unlock_connector(&emsp, 9, "LR201"),
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
        let (server, emsp) = start_with_emsp(&commands_settings(&db, 30)).await;
        let mut cs = booted_at(&server, "CS-B1", "LB").await;

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
            unlock_connector(&emsp, 5, "LB"),
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
        let (server, emsp) = start_with_emsp(&s).await;
        let mut cs = booted_at(&server, "CS-P1", "LP").await;
        relayed(
            &server,
            &emsp,
            "START_SESSION",
            start_session(&emsp, 1, "APP-P", "LP"),
            &mut cs,
            "RemoteStartTransaction",
            json!({"status": "Accepted"}),
        )
        .await;
        server.stop().await;

        // After the restart the charger comes back and starts the transaction it accepted.
        let server = TestServer::start(&s).await.unwrap();
        let mut cs = booted(&server, "CS-P1").await;
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
        let (server, emsp) = start_with_emsp(&s).await;
        let mut cs = booted_at(&server, "CS-T1", "LT").await;

        command(
            &server,
            &emsp,
            "UNLOCK_CONNECTOR",
            unlock_connector(&emsp, 1, "LT"),
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
