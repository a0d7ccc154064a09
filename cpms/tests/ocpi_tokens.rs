//! OCPI 2.2.1 Tokens, CPO Receiver interface, and roaming tokens in the one authorization
//! question: a registered eMSP pushes tokens, a real 1.6 charger presents them over a websocket,
//! and the eMSP answers real-time authorizations (or is down). Every test runs on SQLite and
//! (when configured) PostgreSQL.

mod common;
mod ocpi_support;

use common::*;
use ocpi_support::{AuthAnswer, TokensEmsp};
use serde_json::{json, Value};

async fn test_server(db: &TestDb) -> TestServer {
    let mut s = settings(db);
    s.ocpi.allow_private_partner_urls = true;
    s.ocpi.country_code = "NL".into();
    s.ocpi.party_id = "CPO".into();
    s.ocpi.realtime_auth_timeout_ms = 1500;
    TestServer::start(&s).await.unwrap()
}

fn token(uid: &str, whitelist: &str) -> Value {
    json!({
        "country_code": "DE",
        "party_id": "EMS",
        "uid": uid,
        "type": "RFID",
        "contract_id": "DE-EMS-C12345678-9",
        "visual_number": "DF000-2001-8999",
        "issuer": "Test eMSP",
        "valid": true,
        "whitelist": whitelist,
        "language": "de",
        "last_updated": "2026-01-01T00:00:00Z",
    })
}

fn path(uid: &str) -> String {
    format!("/ocpi/2.2.1/tokens/DE/EMS/{uid}")
}

async fn put(server: &TestServer, emsp: &TokensEmsp, uid: &str, whitelist: &str) {
    let (status, body) = emsp
        .send(server, "PUT", &path(uid), Some(token(uid, whitelist)))
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["status_code"], 1000, "{body}");
}

async fn authorize(charger: &mut Charger, uid: &str) -> String {
    let answer = charger
        .call("Authorize", json!({"idTag": uid}))
        .await
        .unwrap();
    answer["idTagInfo"]["status"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn a_pushed_token_is_stored_read_back_and_authorizes_by_its_whitelist() {
    for db in databases().await {
        let label = db.label;
        let server = test_server(&db).await;
        let emsp = TokensEmsp::register(&server).await;
        let mut charger = server.connect("CS-T1").await.unwrap();
        charger.boot().await.unwrap();

        // Version details list the Receiver interface.
        let (_, details) = emsp.send(&server, "GET", "/ocpi/2.2.1", None).await;
        assert!(
            details["data"]["endpoints"]
                .as_array()
                .unwrap()
                .iter()
                .any(|e| e["identifier"] == "tokens" && e["role"] == "RECEIVER"),
            "{label}: {details}"
        );

        assert_eq!(
            authorize(&mut charger, "RF-ALWAYS").await,
            "Invalid",
            "{label}"
        );
        put(&server, &emsp, "RF-ALWAYS", "ALWAYS").await;
        let (status, got) = emsp
            .send(
                &server,
                "GET",
                &format!("{}?type=RFID", path("RF-ALWAYS")),
                None,
            )
            .await;
        assert_eq!(status, 200, "{label}: {got}");
        assert_eq!(got["data"]["contract_id"], "DE-EMS-C12345678-9", "{label}");
        assert_eq!(got["data"]["whitelist"], "ALWAYS", "{label}");

        // ALWAYS: accepted from the store, without asking the eMSP.
        assert_eq!(
            authorize(&mut charger, "RF-ALWAYS").await,
            "Accepted",
            "{label}"
        );
        assert!(emsp.calls().is_empty(), "{label}: {:?}", emsp.calls());

        // PATCH without last_updated is refused; with it, valid=false blocks the token.
        let (status, body) = emsp
            .send(
                &server,
                "PATCH",
                &path("RF-ALWAYS"),
                Some(json!({"valid": false})),
            )
            .await;
        assert_eq!(
            (status, body["status_code"].clone()),
            (400, json!(2001)),
            "{label}: {body}"
        );
        let (status, body) = emsp
            .send(
                &server,
                "PATCH",
                &path("RF-ALWAYS"),
                Some(json!({"valid": false, "last_updated": "2026-01-02T00:00:00Z"})),
            )
            .await;
        assert_eq!(status, 200, "{label}: {body}");
        assert_eq!(
            authorize(&mut charger, "RF-ALWAYS").await,
            "Blocked",
            "{label}"
        );
        let (_, got) = emsp.send(&server, "GET", &path("RF-ALWAYS"), None).await;
        assert_eq!(got["data"]["valid"], false, "{label}");
        assert_eq!(
            got["data"]["issuer"], "Test eMSP",
            "PATCH keeps the rest: {label}"
        );
        server.stop().await;
    }
}

#[tokio::test]
async fn real_time_authorization_decides_allowed_tokens_and_its_reference_reaches_the_transaction()
{
    for db in databases().await {
        let label = db.label;
        let server = test_server(&db).await;
        let emsp = TokensEmsp::register(&server).await;
        let mut charger = server.connect("CS-T2").await.unwrap();
        charger.boot().await.unwrap();
        put(&server, &emsp, "RF-RT", "ALLOWED").await;

        emsp.answer(AuthAnswer::Allowed("ALLOWED", Some("REF-42")));
        assert_eq!(
            authorize(&mut charger, "RF-RT").await,
            "Accepted",
            "{label}"
        );
        assert_eq!(
            emsp.calls(),
            vec!["/emsp/2.2.1/tokens/RF-RT/authorize?type=RFID".to_owned()],
            "{label}"
        );
        let started = charger.start(1, "RF-RT", 100, &now()).await.unwrap();
        assert_eq!(started["idTagInfo"]["status"], "Accepted", "{label}");
        let tx = started["transactionId"].as_i64().unwrap();
        let (status, record) = server
            .api("GET", &format!("/api/transactions/{tx}"), None)
            .await
            .unwrap();
        assert_eq!(status, 200, "{label}: {record}");
        assert_eq!(
            record["authorization_reference"], "REF-42",
            "{label}: {record}"
        );

        emsp.answer(AuthAnswer::Allowed("BLOCKED", None));
        assert_eq!(authorize(&mut charger, "RF-RT").await, "Blocked", "{label}");

        // Down: ALLOWED falls back to the stored (valid) token.
        emsp.answer(AuthAnswer::Down);
        assert_eq!(
            authorize(&mut charger, "RF-RT").await,
            "Accepted",
            "{label}"
        );
        server.stop().await;
    }
}

#[tokio::test]
async fn an_unreachable_emsp_accepts_allowed_offline_tokens_and_refuses_never_tokens() {
    for db in databases().await {
        let label = db.label;
        let server = test_server(&db).await;
        let emsp = TokensEmsp::register(&server).await;
        let mut charger = server.connect("CS-T3").await.unwrap();
        charger.boot().await.unwrap();
        put(&server, &emsp, "RF-OFFLINE", "ALLOWED_OFFLINE").await;
        put(&server, &emsp, "RF-NEVER", "NEVER").await;

        emsp.answer(AuthAnswer::Down);
        assert_eq!(
            authorize(&mut charger, "RF-OFFLINE").await,
            "Accepted",
            "{label}"
        );
        assert_eq!(
            authorize(&mut charger, "RF-NEVER").await,
            "Invalid",
            "{label}"
        );
        assert_eq!(emsp.calls().len(), 2, "{label}: both asked first");

        // NEVER is decided by the eMSP when it answers.
        emsp.answer(AuthAnswer::Allowed("ALLOWED", None));
        assert_eq!(
            authorize(&mut charger, "RF-NEVER").await,
            "Accepted",
            "{label}"
        );
        server.stop().await;
    }
}

#[tokio::test]
async fn a_partner_may_not_push_under_another_party_and_bad_tokens_are_2001() {
    for db in databases().await {
        let label = db.label;
        let server = test_server(&db).await;
        let emsp = TokensEmsp::register(&server).await;

        // Another party's path: refused, nothing stored.
        let mut other = token("RF-X", "ALWAYS");
        other["country_code"] = json!("FR");
        other["party_id"] = json!("XYZ");
        let (status, body) = emsp
            .send(
                &server,
                "PUT",
                "/ocpi/2.2.1/tokens/FR/XYZ/RF-X",
                Some(other),
            )
            .await;
        assert_eq!(status, 403, "{label}: {body}");
        assert_ne!(body["status_code"], 1000, "{label}");
        let (status, _) = emsp
            .send(&server, "GET", "/ocpi/2.2.1/tokens/FR/XYZ/RF-X", None)
            .await;
        assert_eq!(status, 403, "{label}");

        // Bad bodies: 2001.
        let mut long_uid = token("RF-BAD", "ALWAYS");
        long_uid["contract_id"] = json!("");
        let mut wrong_uid = token("RF-OTHER", "ALWAYS");
        wrong_uid["uid"] = json!("RF-OTHER");
        let mut bad_whitelist = token("RF-BAD", "SOMETIMES");
        bad_whitelist["whitelist"] = json!("SOMETIMES");
        for (what, body) in [
            ("empty contract_id", long_uid),
            ("uid not the path's", wrong_uid),
            ("unknown whitelist", bad_whitelist),
            ("not JSON", json!("nonsense")),
        ] {
            let (status, answer) = emsp.send(&server, "PUT", &path("RF-BAD"), Some(body)).await;
            assert_eq!(status, 400, "{label}: {what}: {answer}");
            assert_eq!(answer["status_code"], 2001, "{label}: {what}: {answer}");
        }
        let (status, body) = emsp.send(&server, "GET", &path("RF-BAD"), None).await;
        assert_eq!(
            (status, body["status_code"].clone()),
            (404, json!(2004)),
            "{label}"
        );

        // Without token C: 401.
        let (status, _, _) = ocpi_support::ocpi(&server, "GET", &path("RF-BAD"), None, None).await;
        assert_eq!(status, 401, "{label}");
        server.stop().await;
    }
}
