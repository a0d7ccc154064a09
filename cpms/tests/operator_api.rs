//! The operator API as an operator's script meets it: bearer tokens on every `/api` route, id
//! tokens and stations managed over HTTP, JSON errors for bad input, pagination and transaction
//! filters. Storage-touching tests run on SQLite and (when configured) PostgreSQL.

mod common;

use common::*;
use serde_json::{json, Value};

/// Every `/api` route with a body it would accept.
const ROUTES: &[(&str, &str, Option<&str>)] = &[
    ("GET", "/api/stations", None),
    ("POST", "/api/stations", Some(r#"{"id":"CP-SNEAK"}"#)),
    ("GET", "/api/stations/CP-SNEAK", None),
    (
        "PATCH",
        "/api/stations/CP-SNEAK",
        Some(r#"{"registration_status":"Accepted"}"#),
    ),
    ("GET", "/api/stations/CP-SNEAK/connectors", None),
    (
        "POST",
        "/api/stations/CP-SNEAK/commands/reset",
        Some(r#"{"type":"Soft"}"#),
    ),
    ("GET", "/api/transactions", None),
    ("GET", "/api/transactions/1", None),
    ("GET", "/api/id-tokens", None),
    (
        "POST",
        "/api/id-tokens",
        Some(r#"{"id_token":"SNEAK","status":"Accepted"}"#),
    ),
    ("GET", "/api/id-tokens/SNEAK", None),
    (
        "PUT",
        "/api/id-tokens/SNEAK",
        Some(r#"{"id_token":"SNEAK","status":"Accepted"}"#),
    ),
    ("DELETE", "/api/id-tokens/SNEAK", None),
];

/// Checks a JSON error answer.
fn assert_error(answer: &(u16, Value), status: u16, code: &str, context: &str) {
    assert_eq!(answer.0, status, "{context}: {}", answer.1);
    assert_eq!(answer.1["error"], code, "{context}: {}", answer.1);
    assert!(answer.1["message"].is_string(), "{context}: {}", answer.1);
}

#[tokio::test]
async fn every_api_route_refuses_a_missing_or_wrong_bearer_token() {
    let db = sqlite();
    let server = TestServer::start(&settings(&db)).await.unwrap();
    let secret = cpms::secrets::jwt_secret(server.server.core.db(), None)
        .await
        .unwrap();
    let expired = cpms::secrets::TokenKeys::new(&secret)
        .issue("test", -1)
        .unwrap();
    let foreign = cpms::secrets::TokenKeys::new(b"not the server's secret")
        .issue("test", 1)
        .unwrap();

    for &(method, path, body) in ROUTES {
        for (label, auth) in [
            ("no token", Auth::None),
            ("garbage", Auth::Bearer("not-a-jwt")),
            ("expired", Auth::Bearer(&expired)),
            ("other secret", Auth::Bearer(&foreign)),
        ] {
            let answer = server.api_raw(method, path, body, auth).await.unwrap();
            assert_error(
                &answer,
                401,
                "unauthorized",
                &format!("{method} {path} {label}"),
            );
        }
    }
    // Nothing the refused requests asked for happened.
    let (status, stations) = server.api("GET", "/api/stations", None).await.unwrap();
    assert_eq!((status, &stations["total"]), (200, &json!(0)), "{stations}");
    let (status, tokens) = server.api("GET", "/api/id-tokens", None).await.unwrap();
    assert_eq!((status, &tokens["total"]), (200, &json!(0)), "{tokens}");

    // Health is for probes, which carry no token.
    let health = server
        .http
        .get(server.api_url("/health"))
        .send()
        .await
        .unwrap();
    assert_eq!(health.status(), 200);
    let body: Value = health.json().await.unwrap();
    assert_eq!(body["status"], "ok");

    // A 401 names the scheme (RFC 6750 §3); the scheme name is case-insensitive.
    let refused = server
        .http
        .get(server.api_url("/api/stations"))
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 401);
    let challenge = refused.headers()["www-authenticate"].to_str().unwrap();
    assert!(challenge.starts_with("Bearer"), "{challenge}");
    let lower = server
        .http
        .get(server.api_url("/api/stations"))
        .header("Authorization", format!("bearer {}", server.token))
        .send()
        .await
        .unwrap();
    assert_eq!(lower.status(), 200);
    server.stop().await;
}

#[tokio::test]
async fn id_tokens_are_created_read_replaced_listed_and_deleted() {
    for db in databases().await {
        let server = TestServer::start(&settings(&db)).await.unwrap();
        let first = json!({
            "id_token": "TAG-1",
            "status": "Accepted",
            "expiry_date": "2099-01-01T00:00:00Z",
            "group_id_token": "GROUP-1"
        });
        let (status, created) = server
            .api("POST", "/api/id-tokens", Some(first.clone()))
            .await
            .unwrap();
        assert_eq!((status, &created), (201, &first), "{}", db.label);
        let again = server
            .api(
                "POST",
                "/api/id-tokens",
                Some(json!({"id_token": "TAG-1", "status": "Blocked"})),
            )
            .await
            .unwrap();
        assert_error(&again, 409, "conflict", db.label);
        let (status, read) = server
            .api("GET", "/api/id-tokens/TAG-1", None)
            .await
            .unwrap();
        assert_eq!((status, &read), (200, &first), "{}", db.label);

        // PUT replaces the whole record: what it leaves out is gone.
        let replacement = json!({"id_token": "TAG-1", "status": "Blocked"});
        let (status, _) = server
            .api("PUT", "/api/id-tokens/TAG-1", Some(replacement))
            .await
            .unwrap();
        assert_eq!(status, 200, "{}", db.label);
        let (_, read) = server
            .api("GET", "/api/id-tokens/TAG-1", None)
            .await
            .unwrap();
        assert_eq!(
            read,
            json!({"id_token": "TAG-1", "status": "Blocked", "expiry_date": null, "group_id_token": null}),
            "{}",
            db.label
        );
        let mismatch = server
            .api(
                "PUT",
                "/api/id-tokens/TAG-1",
                Some(json!({"id_token": "TAG-2", "status": "Accepted"})),
            )
            .await
            .unwrap();
        assert_error(&mismatch, 400, "bad_request", db.label);
        // PUT of a token that does not exist yet creates it.
        let (status, _) = server
            .api(
                "PUT",
                "/api/id-tokens/TAG-NEW",
                Some(json!({"id_token": "TAG-NEW", "status": "Accepted"})),
            )
            .await
            .unwrap();
        assert_eq!(status, 201, "{}", db.label);
        server
            .api("DELETE", "/api/id-tokens/TAG-NEW", None)
            .await
            .unwrap();

        for id in ["TAG-2", "TAG-3"] {
            accepted_token(&server, id).await.unwrap();
        }
        let (_, list) = server.api("GET", "/api/id-tokens", None).await.unwrap();
        assert_eq!(list["total"], 3, "{}: {list}", db.label);
        let ids: Vec<&str> = list["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t["id_token"].as_str().unwrap())
            .collect();
        assert_eq!(ids, ["TAG-1", "TAG-2", "TAG-3"]);
        let (_, page) = server
            .api("GET", "/api/id-tokens?offset=1&limit=1", None)
            .await
            .unwrap();
        assert_eq!(page["total"], 3);
        assert_eq!(page["items"].as_array().unwrap().len(), 1);
        assert_eq!(page["items"][0]["id_token"], "TAG-2");

        let (status, body) = server
            .api("DELETE", "/api/id-tokens/TAG-1", None)
            .await
            .unwrap();
        assert_eq!((status, body), (204, Value::Null), "{}", db.label);
        let gone = server
            .api("GET", "/api/id-tokens/TAG-1", None)
            .await
            .unwrap();
        assert_error(&gone, 404, "not_found", db.label);
        let gone_again = server
            .api("DELETE", "/api/id-tokens/TAG-1", None)
            .await
            .unwrap();
        assert_error(&gone_again, 404, "not_found", db.label);
        let (_, list) = server.api("GET", "/api/id-tokens", None).await.unwrap();
        assert_eq!(list["total"], 2, "{}", db.label);

        // Tokens no station could send are refused.
        for bad in [
            json!({"id_token": "X".repeat(37), "status": "Accepted"}),
            json!({"id_token": "", "status": "Accepted"}),
            json!({"id_token": "TAG-9", "status": "Maybe"}),
        ] {
            let answer = server
                .api("POST", "/api/id-tokens", Some(bad.clone()))
                .await
                .unwrap();
            assert_error(&answer, 400, "bad_request", &format!("{}: {bad}", db.label));
        }
        server.stop().await;
    }
}

/// The status a station gets when it asks about `id_tag`.
async fn authorize(cp: &mut Charger, id_tag: &str) -> Value {
    let answer = cp
        .call("Authorize", json!({"idTag": id_tag}))
        .await
        .unwrap();
    answer["idTagInfo"]["status"].clone()
}

#[tokio::test]
async fn blocked_and_expired_tokens_are_refused_at_the_station() {
    for db in databases().await {
        let server = TestServer::start(&settings(&db)).await.unwrap();
        for token in [
            json!({"id_token": "BLOCKED", "status": "Blocked"}),
            json!({"id_token": "OLD", "status": "Accepted", "expiry_date": "2020-01-01T00:00:00Z"}),
            json!({"id_token": "GOOD", "status": "Accepted", "expiry_date": "2099-01-01T00:00:00Z"}),
        ] {
            let (status, _) = server
                .api("POST", "/api/id-tokens", Some(token))
                .await
                .unwrap();
            assert_eq!(status, 201);
        }
        let mut cp = server.connect("CP-AUTH").await.unwrap();
        cp.boot().await.unwrap();
        assert_eq!(
            authorize(&mut cp, "BLOCKED").await,
            "Blocked",
            "{}",
            db.label
        );
        assert_eq!(authorize(&mut cp, "OLD").await, "Expired", "{}", db.label);
        assert_eq!(authorize(&mut cp, "GOOD").await, "Accepted", "{}", db.label);

        // The operator unblocks the token; the next Authorize sees it.
        let (status, _) = server
            .api(
                "PUT",
                "/api/id-tokens/BLOCKED",
                Some(json!({"id_token": "BLOCKED", "status": "Accepted"})),
            )
            .await
            .unwrap();
        assert_eq!(status, 200);
        assert_eq!(
            authorize(&mut cp, "BLOCKED").await,
            "Accepted",
            "{}",
            db.label
        );
        server.stop().await;
    }
}

#[tokio::test]
async fn bodies_that_are_not_the_expected_json_get_a_json_400() {
    for db in databases().await {
        let server = TestServer::start(&settings(&db)).await.unwrap();
        let (status, _) = server
            .api("POST", "/api/stations", Some(json!({"id": "CP-BODY"})))
            .await
            .unwrap();
        assert_eq!(status, 201);
        for (method, path, body) in [
            ("POST", "/api/stations", "not json"),
            ("POST", "/api/stations", r#"{"id":"CP-X","colour":"red"}"#),
            ("POST", "/api/stations", r#"{"id":42}"#),
            ("PATCH", "/api/stations/CP-BODY", "[]"),
            (
                "PATCH",
                "/api/stations/CP-BODY",
                r#"{"registration_status":"Maybe"}"#,
            ),
            ("POST", "/api/id-tokens", "{"),
            ("POST", "/api/id-tokens", r#"{"id_token":"T"}"#),
            (
                "PUT",
                "/api/id-tokens/T",
                r#"{"id_token":1,"status":"Accepted"}"#,
            ),
        ] {
            let answer = server
                .api_raw(method, path, Some(body), Auth::Bearer(&server.token))
                .await
                .unwrap();
            assert_error(
                &answer,
                400,
                "bad_request",
                &format!("{}: {method} {path} {body}", db.label),
            );
        }
        // Nothing was changed by the refused requests.
        let (_, station) = server
            .api("GET", "/api/stations/CP-BODY", None)
            .await
            .unwrap();
        assert_eq!(station["registration_status"], "Accepted");
        let (_, stations) = server.api("GET", "/api/stations", None).await.unwrap();
        assert_eq!(stations["total"], 1);
        let (_, tokens) = server.api("GET", "/api/id-tokens", None).await.unwrap();
        assert_eq!(tokens["total"], 0);
        server.stop().await;
    }
}

#[tokio::test]
async fn stations_are_validated_unique_and_paginated() {
    for db in databases().await {
        let server = TestServer::start(&settings(&db)).await.unwrap();
        let invalid = server
            .api("POST", "/api/stations", Some(json!({"id": "CP 1"})))
            .await
            .unwrap();
        assert_error(&invalid, 400, "bad_request", db.label);
        for id in ["CP-C", "CP-A", "CP-B"] {
            let (status, created) = server
                .api("POST", "/api/stations", Some(json!({"id": id})))
                .await
                .unwrap();
            assert_eq!(status, 201, "{}: {created}", db.label);
            assert_eq!(created["connected"], false);
            assert_eq!(created["has_password"], false);
        }
        let duplicate = server
            .api("POST", "/api/stations", Some(json!({"id": "CP-A"})))
            .await
            .unwrap();
        assert_error(&duplicate, 409, "conflict", db.label);

        let (status, page) = server
            .api("GET", "/api/stations?offset=1&limit=1", None)
            .await
            .unwrap();
        assert_eq!(status, 200);
        assert_eq!(page["total"], 3, "{}: {page}", db.label);
        let items = page["items"].as_array().unwrap();
        assert_eq!(items.len(), 1);
        assert_eq!(items[0]["id"], "CP-B", "stations are listed by id");
        let (_, rest) = server
            .api("GET", "/api/stations?offset=3", None)
            .await
            .unwrap();
        assert_eq!(rest["items"], json!([]));
        assert_eq!(rest["total"], 3);

        let missing = server
            .api("GET", "/api/stations/CP-NONE", None)
            .await
            .unwrap();
        assert_error(&missing, 404, "not_found", db.label);
        let missing = server
            .api(
                "PATCH",
                "/api/stations/CP-NONE",
                Some(json!({"password": "x"})),
            )
            .await
            .unwrap();
        assert_error(&missing, 404, "not_found", db.label);
        server.stop().await;
    }
}

#[tokio::test]
async fn transactions_are_filtered_by_station_state_and_token() {
    for db in databases().await {
        let server = TestServer::start(&settings(&db)).await.unwrap();
        accepted_token(&server, "TAG-A").await.unwrap();
        accepted_token(&server, "TAG-B").await.unwrap();
        let mut one = server.connect("CP-ONE").await.unwrap();
        one.boot().await.unwrap();
        let mut two = server.connect("CP-TWO").await.unwrap();
        two.boot().await.unwrap();
        let tx_id = |v: Value| v["transactionId"].as_i64().unwrap();
        let done = tx_id(one.start(1, "TAG-A", 0, &now()).await.unwrap());
        one.stop(done, 1000, "Local").await.unwrap();
        let b_on_two = tx_id(two.start(1, "TAG-B", 0, &now()).await.unwrap());
        let a_on_two = tx_id(two.start(2, "TAG-A", 0, &now()).await.unwrap());

        let ids = |query: &'static str| {
            let server = &server;
            async move {
                let (status, list) = server
                    .api("GET", &format!("/api/transactions?{query}"), None)
                    .await
                    .unwrap();
                assert_eq!(status, 200, "{query}: {list}");
                let mut ids: Vec<i64> = list["items"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|t| t["id"].as_i64().unwrap())
                    .collect();
                ids.sort_unstable();
                assert_eq!(list["total"], ids.len(), "{query}: {list}");
                ids
            }
        };
        let sorted = |mut v: Vec<i64>| {
            v.sort_unstable();
            v
        };
        assert_eq!(ids("station_id=CP-ONE").await, [done], "{}", db.label);
        assert_eq!(
            ids("station_id=CP-TWO").await,
            sorted(vec![b_on_two, a_on_two])
        );
        assert_eq!(ids("state=Stopped").await, [done], "{}", db.label);
        assert_eq!(ids("state=Active").await, sorted(vec![b_on_two, a_on_two]));
        assert_eq!(ids("id_token=TAG-A").await, sorted(vec![done, a_on_two]));
        assert_eq!(ids("id_token=TAG-B").await, [b_on_two]);
        assert_eq!(
            ids("station_id=CP-TWO&state=Active&id_token=TAG-A").await,
            [a_on_two],
            "{}",
            db.label
        );
        assert_eq!(ids("station_id=CP-NONE").await, Vec::<i64>::new());
        assert_eq!(ids("").await.len(), 3);

        let bad = server
            .api("GET", "/api/transactions?state=Flying", None)
            .await
            .unwrap();
        assert_error(&bad, 400, "bad_request", db.label);
        server.stop().await;
    }
}
