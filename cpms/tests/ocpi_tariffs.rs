//! OCPI 2.2.1 Tariffs, CPO Sender interface, as an operator and an eMSP meet it: the operator
//! defines tariffs over `/api/tariffs` (each validation rule refused with a 400), a registered
//! test eMSP pulls them from `/ocpi/2.2.1/tariffs` with pagination, date filters and exact
//! numbers; token A and no token are refused. Storage tests run on SQLite and (when configured)
//! PostgreSQL.

mod common;

use std::net::SocketAddr;

use axum::http::{HeaderMap, StatusCode};
use axum::routing::get;
use axum::{Json, Router};
use base64::Engine;
use chrono::{DateTime, TimeZone, Utc};
use common::*;
use cpms::entities::tariff;
use sea_orm::{ActiveModelTrait, ActiveValue::Set, EntityTrait, IntoActiveModel};
use serde_json::{json, Value};

fn token(t: &str) -> String {
    format!(
        "Token {}",
        base64::engine::general_purpose::STANDARD.encode(t)
    )
}

/// A test eMSP that answers the versions and version details the CPMS fetches while the eMSP
/// registers (Credentials: Registration); it accepts any token.
async fn emsp() -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let base = format!("http://{addr}/emsp");
    let envelope = |data: Value| {
        Json(json!({"data": data, "status_code": 1000, "timestamp": "2026-01-01T00:00:00Z"}))
    };
    let versions = json!([{"version": "2.2.1", "url": format!("{base}/2.2.1")}]);
    let details = json!({"version": "2.2.1", "endpoints": [
        {"identifier": "credentials", "role": "SENDER", "url": format!("{base}/2.2.1/credentials")},
        {"identifier": "tariffs", "role": "RECEIVER", "url": format!("{base}/2.2.1/tariffs")},
    ]});
    let app = Router::new()
        .route(
            "/emsp/versions",
            get(move || async move { (StatusCode::OK, envelope(versions)) }),
        )
        .route(
            "/emsp/2.2.1",
            get(move || async move { (StatusCode::OK, envelope(details)) }),
        );
    tokio::spawn(async move { axum::serve(listener, app).await });
    addr
}

/// An OCPI request; returns status, headers and the body's text (numbers as sent).
async fn ocpi_get(
    server: &TestServer,
    path: &str,
    authorization: Option<&str>,
) -> (u16, HeaderMap, String) {
    let mut req = server.http.get(server.api_url(path));
    if let Some(a) = authorization {
        req = req.header("Authorization", a);
    }
    let resp = req.send().await.unwrap();
    let status = resp.status().as_u16();
    let headers = resp.headers().clone();
    (status, headers, resp.text().await.unwrap())
}

fn parse(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|_| panic!("non-JSON: {text}"))
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

async fn test_server(db: &TestDb, page_limit: u64) -> TestServer {
    let mut s = settings(db);
    s.ocpi.allow_private_partner_urls = true;
    s.ocpi.country_code = "NL".into();
    s.ocpi.party_id = "CPO".into();
    s.ocpi.page_limit = page_limit;
    TestServer::start(&s).await.unwrap()
}

/// Creates a partner and returns its token A.
async fn token_a(server: &TestServer) -> String {
    let (status, created) = server
        .api("POST", "/api/ocpi/partners", Some(json!({"name": "eMSP"})))
        .await
        .unwrap();
    assert_eq!(status, 201, "{created}");
    created["token"].as_str().unwrap().to_owned()
}

/// An eMSP registers with token A (Credentials: Registration); returns token C.
async fn registered_emsp(server: &TestServer) -> String {
    let token_a = token_a(server).await;
    let emsp = emsp().await;
    let resp = server
        .http
        .post(server.api_url("/ocpi/2.2.1/credentials"))
        .header("Authorization", token(&token_a))
        .json(&json!({
            "token": "emsp-token-b",
            "url": format!("http://{emsp}/emsp/versions"),
            "roles": [{"role": "EMSP", "party_id": "EMS", "country_code": "DE",
                       "business_details": {"name": "Test eMSP"}}],
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    let body: Value = resp.json().await.unwrap();
    body["data"]["token"].as_str().unwrap().to_owned()
}

/// An energy-only tariff like the spec's simplest example, with our own numbers.
const KWH_TARIFF: &str = r#"{
    "id": "kwh-1", "currency": "EUR",
    "elements": [{"price_components": [
        {"type": "ENERGY", "price": 0.25, "vat": 10.0, "step_size": 1}
    ]}]
}"#;

/// Flat fee, charging time, parking time with restrictions, prices with trailing zeros, and the
/// other optional fields.
const COMPLEX_TARIFF: &str = r#"{
    "country_code": "XX", "party_id": "XXX", "last_updated": "2000-01-01T00:00:00Z",
    "id": "complex-2", "currency": "EUR", "type": "REGULAR",
    "tariff_alt_text": [{"language": "en", "text": "Start fee, time and parking"}],
    "tariff_alt_url": "https://cpo.example/tariffs/complex-2",
    "min_price": {"excl_vat": 0.50, "incl_vat": 0.55},
    "max_price": {"excl_vat": 20.00},
    "elements": [
        {"price_components": [{"type": "FLAT", "price": 2.50, "vat": 15.0, "step_size": 1}]},
        {"price_components": [{"type": "TIME", "price": 1.00, "vat": 20.0, "step_size": 900}],
         "restrictions": {"max_current": 32.00}},
        {"price_components": [{"type": "PARKING_TIME", "price": 5.00, "vat": 10.0, "step_size": 300}],
         "restrictions": {"start_time": "09:00", "end_time": "18:00",
                          "day_of_week": ["MONDAY", "TUESDAY", "WEDNESDAY", "THURSDAY", "FRIDAY"],
                          "start_date": "2026-01-01", "end_date": "2027-01-01",
                          "min_kwh": 0.5, "max_kwh": 100, "min_duration": 60, "max_duration": 7200}},
        {"price_components": [{"type": "TIME", "price": 3.1234, "step_size": 60}],
         "restrictions": {"reservation": "RESERVATION"}}
    ],
    "energy_mix": {"is_green_energy": true, "energy_sources": [{"source": "SOLAR", "percentage": 100}],
                   "supplier_name": "Sun"},
    "start_date_time": "2026-01-01T00:00:00Z",
    "end_date_time": "2027-01-01T00:00:00Z"
}"#;

async fn post_raw(server: &TestServer, body: &str) -> (u16, Value) {
    server
        .api_raw(
            "POST",
            "/api/tariffs",
            Some(body),
            Auth::Bearer(&server.token),
        )
        .await
        .unwrap()
}

/// Sets a tariff's `last_updated` directly, so windows can be tested without waiting.
async fn set_last_updated(server: &TestServer, id: &str, at: DateTime<Utc>) {
    let row = tariff::Entity::find_by_id(id.to_owned())
        .one(server.server.core.db())
        .await
        .unwrap()
        .unwrap();
    let mut active = row.into_active_model();
    active.last_updated = Set(at);
    active.update(server.server.core.db()).await.unwrap();
}

fn second(s: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, s).unwrap()
}

#[tokio::test]
async fn an_emsp_pulls_the_operators_tariffs_with_exact_numbers() {
    for db in databases().await {
        let label = db.label;
        let server = test_server(&db, 100).await;
        let token_c = registered_emsp(&server).await;

        let (status, created) = post_raw(&server, KWH_TARIFF).await;
        assert_eq!(status, 201, "{label}: {created}");
        assert_eq!(created["country_code"], "NL");
        assert_eq!(created["party_id"], "CPO");
        let (status, complex) = post_raw(&server, COMPLEX_TARIFF).await;
        assert_eq!(status, 201, "{label}: {complex}");
        // The platform's fields win over the body's.
        assert_eq!(complex["country_code"], "NL");
        assert_ne!(complex["last_updated"], "2000-01-01T00:00:00Z");

        let (status, again) = post_raw(&server, KWH_TARIFF).await;
        assert_eq!(status, 409, "{label}: {again}");

        // The version details list the Tariffs Sender interface.
        let (_, _, details) = ocpi_get(&server, "/ocpi/2.2.1", Some(&token(&token_c))).await;
        assert!(parse(&details)["data"]["endpoints"]
            .as_array()
            .unwrap()
            .contains(&json!({"identifier": "tariffs", "role": "SENDER",
                "url": "http://localhost:8080/ocpi/2.2.1/tariffs"})));

        set_last_updated(&server, "kwh-1", second(1)).await;
        set_last_updated(&server, "complex-2", second(2)).await;
        let (status, headers, text) =
            ocpi_get(&server, "/ocpi/2.2.1/tariffs", Some(&token(&token_c))).await;
        assert_eq!(status, 200, "{label}: {text}");
        let body = parse(&text);
        assert_eq!(body["status_code"], 1000);
        assert_eq!(header(&headers, "x-total-count"), Some("2"));
        assert_eq!(header(&headers, "x-limit"), Some("100"));
        assert_eq!(header(&headers, "link"), None);
        let data = body["data"].as_array().unwrap();
        assert_eq!(data.len(), 2);
        assert_eq!(data[0]["id"], "kwh-1");
        assert_eq!(data[0]["country_code"], "NL");
        assert_eq!(data[0]["party_id"], "CPO");
        assert_eq!(data[0]["last_updated"], "2026-01-01T00:00:01Z");
        // Numbers are JSON numbers with the digits the operator wrote, no float noise.
        assert!(text.contains(r#""price":0.25"#), "{label}: {text}");
        assert!(text.contains(r#""vat":10.0"#), "{label}: {text}");
        assert!(text.contains(r#""price":2.50"#), "{label}: {text}");
        assert!(text.contains(r#""price":3.1234"#), "{label}: {text}");
        assert!(text.contains(r#""excl_vat":0.50"#), "{label}: {text}");
        assert!(text.contains(r#""max_current":32.00"#), "{label}: {text}");
        assert!(
            !text.contains(r#""price":""#),
            "{label}: no strings: {text}"
        );

        let complex = &data[1];
        assert_eq!(complex["type"], "REGULAR");
        assert_eq!(
            complex["tariff_alt_text"][0]["text"],
            "Start fee, time and parking"
        );
        let r = &complex["elements"][2]["restrictions"];
        assert_eq!(r["start_time"], "09:00");
        assert_eq!(r["end_date"], "2027-01-01");
        assert_eq!(r["day_of_week"][4], "FRIDAY");
        assert_eq!(r["min_duration"], 60);
        assert_eq!(
            complex["elements"][3]["restrictions"]["reservation"],
            "RESERVATION"
        );
        assert!(complex["elements"][3]["price_components"][0]
            .get("vat")
            .is_none());
        assert_eq!(
            complex["energy_mix"]["energy_sources"][0]["source"],
            "SOLAR"
        );
        assert_eq!(complex["start_date_time"], "2026-01-01T00:00:00Z");

        // The operator reads the same object.
        let (status, one) = server
            .api("GET", "/api/tariffs/complex-2", None)
            .await
            .unwrap();
        assert_eq!(status, 200, "{label}: {one}");
        assert_eq!(one["elements"], complex["elements"]);
        let (_, list) = server.api("GET", "/api/tariffs", None).await.unwrap();
        assert_eq!(list["total"], 2);
        server.stop().await;
    }
}

#[tokio::test]
async fn the_list_is_paginated_with_date_filters_kept_in_the_next_link() {
    for db in databases().await {
        let label = db.label;
        let server = test_server(&db, 3).await;
        let auth = token(&registered_emsp(&server).await);
        for i in 1..=5u32 {
            let body = KWH_TARIFF.replace("kwh-1", &format!("t{i}"));
            assert_eq!(post_raw(&server, &body).await.0, 201);
            set_last_updated(&server, &format!("t{i}"), second(i)).await;
        }
        let ids = |text: &str| -> Vec<String> {
            parse(text)["data"]
                .as_array()
                .unwrap()
                .iter()
                .map(|t| t["id"].as_str().unwrap().to_owned())
                .collect()
        };

        // A limit above the server's maximum is capped; X-Limit reports the maximum.
        let (status, headers, text) =
            ocpi_get(&server, "/ocpi/2.2.1/tariffs?limit=50", Some(&auth)).await;
        assert_eq!(status, 200, "{label}: {text}");
        assert_eq!(ids(&text), ["t1", "t2", "t3"]);
        assert_eq!(header(&headers, "x-total-count"), Some("5"));
        assert_eq!(header(&headers, "x-limit"), Some("3"));
        assert_eq!(
            header(&headers, "link"),
            Some("<http://localhost:8080/ocpi/2.2.1/tariffs?offset=3&limit=3>; rel=\"next\"")
        );

        // date_from inclusive, date_to exclusive: t2, t3, t4.
        let path = "/ocpi/2.2.1/tariffs?date_from=2026-01-01T00:00:02Z&date_to=2026-01-01T00:00:05Z&limit=2";
        let (_, headers, text) = ocpi_get(&server, path, Some(&auth)).await;
        assert_eq!(ids(&text), ["t2", "t3"], "{label}");
        assert_eq!(header(&headers, "x-total-count"), Some("3"));
        let link = header(&headers, "link").unwrap().to_owned();
        assert_eq!(
            link,
            "<http://localhost:8080/ocpi/2.2.1/tariffs?offset=2&limit=2&date_from=2026-01-01T00%3A00%3A02Z&date_to=2026-01-01T00%3A00%3A05Z>; rel=\"next\""
        );
        // Following the link (on our address) gives the rest and no further link.
        let next = link
            .trim_start_matches("<http://localhost:8080")
            .split_once('>')
            .unwrap()
            .0
            .to_owned();
        let (_, headers, text) = ocpi_get(&server, &next, Some(&auth)).await;
        assert_eq!(ids(&text), ["t4"], "{label}");
        assert_eq!(header(&headers, "x-total-count"), Some("3"));
        assert_eq!(header(&headers, "link"), None);

        // An offset past the end is an empty page.
        let (status, _, text) =
            ocpi_get(&server, "/ocpi/2.2.1/tariffs?offset=9", Some(&auth)).await;
        assert_eq!(status, 200);
        assert!(ids(&text).is_empty());
        // A malformed filter is a 2001.
        let (status, _, text) = ocpi_get(
            &server,
            "/ocpi/2.2.1/tariffs?date_from=yesterday",
            Some(&auth),
        )
        .await;
        assert_eq!(status, 400, "{label}: {text}");
        assert_eq!(parse(&text)["status_code"], 2001);
        server.stop().await;
    }
}

#[tokio::test]
async fn put_moves_last_updated_and_delete_removes_the_tariff() {
    for db in databases().await {
        let label = db.label;
        let server = test_server(&db, 100).await;
        let auth = token(&registered_emsp(&server).await);
        assert_eq!(post_raw(&server, KWH_TARIFF).await.0, 201);
        set_last_updated(&server, "kwh-1", second(1)).await;

        let changed = KWH_TARIFF.replace("0.25", "0.31");
        let (status, put) = server
            .api_raw(
                "PUT",
                "/api/tariffs/kwh-1",
                Some(&changed),
                Auth::Bearer(&server.token),
            )
            .await
            .unwrap();
        assert_eq!(status, 200, "{label}: {put}");
        let (_, _, text) = ocpi_get(&server, "/ocpi/2.2.1/tariffs", Some(&auth)).await;
        assert!(text.contains(r#""price":0.31"#), "{label}: {text}");
        let last_updated = parse(&text)["data"][0]["last_updated"]
            .as_str()
            .unwrap()
            .to_owned();
        let last_updated = DateTime::parse_from_rfc3339(&last_updated).unwrap();
        assert!(last_updated > second(1), "{label}: {last_updated}");
        assert!(Utc::now().signed_duration_since(last_updated).num_seconds() < 60);

        // The body's id must match the path; an unknown tariff is a 404.
        let other = KWH_TARIFF.replace("kwh-1", "other");
        let (status, _) = server
            .api_raw(
                "PUT",
                "/api/tariffs/kwh-1",
                Some(&other),
                Auth::Bearer(&server.token),
            )
            .await
            .unwrap();
        assert_eq!(status, 400);
        let (status, _) = server
            .api_raw(
                "PUT",
                "/api/tariffs/other",
                Some(&other),
                Auth::Bearer(&server.token),
            )
            .await
            .unwrap();
        assert_eq!(status, 404);

        let (status, _) = server
            .api("DELETE", "/api/tariffs/kwh-1", None)
            .await
            .unwrap();
        assert_eq!(status, 204, "{label}");
        let (_, headers, text) = ocpi_get(&server, "/ocpi/2.2.1/tariffs", Some(&auth)).await;
        assert_eq!(parse(&text)["data"], json!([]), "{label}");
        assert_eq!(header(&headers, "x-total-count"), Some("0"));
        let (status, _) = server.api("GET", "/api/tariffs/kwh-1", None).await.unwrap();
        assert_eq!(status, 404);
        let (status, _) = server
            .api("DELETE", "/api/tariffs/kwh-1", None)
            .await
            .unwrap();
        assert_eq!(status, 404);
        server.stop().await;
    }
}

#[tokio::test]
async fn only_registered_partners_and_operators_reach_tariffs() {
    for db in databases().await {
        let label = db.label;
        let server = test_server(&db, 100).await;
        let token_a = token_a(&server).await;
        let (status, _, text) = ocpi_get(&server, "/ocpi/2.2.1/tariffs", None).await;
        assert_eq!(status, 401, "{label}: {text}");
        assert_eq!(parse(&text)["status_code"], 2000);
        let (status, _, text) =
            ocpi_get(&server, "/ocpi/2.2.1/tariffs", Some(&token(&token_a))).await;
        assert_eq!(status, 401, "{label}: token A: {text}");
        let (status, _, _) =
            ocpi_get(&server, "/ocpi/2.2.1/tariffs", Some(&token("made-up"))).await;
        assert_eq!(status, 401);

        for (method, path) in [("GET", "/api/tariffs"), ("POST", "/api/tariffs")] {
            let (status, _) = server
                .api_raw(method, path, Some(KWH_TARIFF), Auth::None)
                .await
                .unwrap();
            assert_eq!(status, 401, "{label}: {method} {path}");
        }
        server.stop().await;
    }
}

/// Replaces `pointer`'s value in a valid tariff (or removes it when `value` is None).
fn mutated(pointer: &str, value: Option<Value>) -> String {
    let mut v: Value = serde_json::from_str(COMPLEX_TARIFF).unwrap();
    let (parent, key) = pointer.rsplit_once('/').unwrap();
    let target = v.pointer_mut(parent).unwrap();
    match (target, value) {
        (Value::Object(map), Some(value)) => {
            map.insert(key.to_owned(), value);
        }
        (Value::Object(map), None) => {
            map.remove(key);
        }
        (Value::Array(items), Some(value)) => items[key.parse::<usize>().unwrap()] = value,
        _ => panic!("bad pointer {pointer}"),
    }
    v.to_string()
}

#[tokio::test]
async fn each_validation_rule_is_a_400() {
    let db = sqlite();
    let server = test_server(&db, 100).await;
    let long = "x".repeat(513);
    let cases: Vec<(&str, String)> = vec![
        ("no elements", mutated("/elements", None)),
        ("empty elements", mutated("/elements", Some(json!([])))),
        (
            "empty price_components",
            mutated("/elements/0/price_components", Some(json!([]))),
        ),
        (
            "negative price",
            mutated("/elements/0/price_components/0/price", Some(json!(-0.01))),
        ),
        (
            "price as a string",
            mutated("/elements/0/price_components/0/price", Some(json!("0.25"))),
        ),
        (
            "negative vat",
            mutated("/elements/0/price_components/0/vat", Some(json!(-1))),
        ),
        (
            "step_size 0",
            mutated("/elements/0/price_components/0/step_size", Some(json!(0))),
        ),
        (
            "step_size not an integer",
            mutated("/elements/0/price_components/0/step_size", Some(json!(1.5))),
        ),
        (
            "lower-case currency",
            mutated("/currency", Some(json!("eur"))),
        ),
        (
            "four-letter currency",
            mutated("/currency", Some(json!("EURO"))),
        ),
        ("missing currency", mutated("/currency", None)),
        (
            "time without leading zero",
            mutated("/elements/2/restrictions/start_time", Some(json!("9:00"))),
        ),
        (
            "hour 24",
            mutated("/elements/2/restrictions/end_time", Some(json!("24:00"))),
        ),
        (
            "month 13",
            mutated(
                "/elements/2/restrictions/start_date",
                Some(json!("2026-13-01")),
            ),
        ),
        (
            "end_date not after start_date",
            mutated(
                "/elements/2/restrictions/end_date",
                Some(json!("2025-12-31")),
            ),
        ),
        (
            "min_kwh above max_kwh",
            mutated("/elements/2/restrictions/min_kwh", Some(json!(101))),
        ),
        (
            "min_duration above max_duration",
            mutated("/elements/2/restrictions/min_duration", Some(json!(7201))),
        ),
        (
            "min_current above max_current",
            mutated(
                "/elements/1/restrictions",
                Some(json!({"min_current": 40, "max_current": 32})),
            ),
        ),
        (
            "min_power above max_power",
            mutated(
                "/elements/1/restrictions",
                Some(json!({"min_power": 50, "max_power": 22})),
            ),
        ),
        (
            "negative duration",
            mutated("/elements/2/restrictions/min_duration", Some(json!(-1))),
        ),
        (
            "unknown tariff type",
            mutated("/type", Some(json!("CHEAP"))),
        ),
        (
            "unknown dimension",
            mutated("/elements/0/price_components/0/type", Some(json!("VOLUME"))),
        ),
        (
            "unknown day",
            mutated(
                "/elements/2/restrictions/day_of_week/0",
                Some(json!("FUNDAY")),
            ),
        ),
        (
            "unknown reservation type",
            mutated(
                "/elements/3/restrictions/reservation",
                Some(json!("BOOKING")),
            ),
        ),
        (
            "reservation with an ENERGY component",
            mutated("/elements/3/price_components/0/type", Some(json!("ENERGY"))),
        ),
        ("id too long", mutated("/id", Some(json!("x".repeat(37))))),
        ("empty id", mutated("/id", Some(json!("")))),
        ("id with a slash", mutated("/id", Some(json!("a/b")))),
        ("missing id", mutated("/id", None)),
        (
            "alt text too long",
            mutated("/tariff_alt_text/0/text", Some(json!(long))),
        ),
        (
            "three-letter language",
            mutated("/tariff_alt_text/0/language", Some(json!("eng"))),
        ),
        (
            "alt url not http",
            mutated("/tariff_alt_url", Some(json!("ftp://cpo.example/t"))),
        ),
        (
            "max_price below min_price",
            mutated("/max_price", Some(json!({"excl_vat": 0.49}))),
        ),
        (
            "max_price incl_vat below min_price incl_vat",
            mutated("/max_price", Some(json!({"excl_vat": 1, "incl_vat": 0.5}))),
        ),
        (
            "negative min_price",
            mutated("/min_price", Some(json!({"excl_vat": -1}))),
        ),
        (
            "end_date_time before start_date_time",
            mutated("/end_date_time", Some(json!("2025-01-01T00:00:00Z"))),
        ),
        (
            "energy share above 100",
            mutated("/energy_mix/energy_sources/0/percentage", Some(json!(101))),
        ),
        (
            "supplier name too long",
            mutated("/energy_mix/supplier_name", Some(json!("s".repeat(65)))),
        ),
        ("unknown field", mutated("/colour", Some(json!("blue")))),
        ("not an object", "[]".to_owned()),
        ("not JSON", "{".to_owned()),
    ];
    for (case, body) in &cases {
        let (status, answer) = post_raw(&server, body).await;
        assert_eq!(status, 400, "{case}: {answer}");
        assert_eq!(answer["error"], "bad_request", "{case}");
        assert!(!answer["message"].as_str().unwrap().is_empty(), "{case}");
    }
    // PUT validates the same way.
    assert_eq!(post_raw(&server, COMPLEX_TARIFF).await.0, 201);
    let (status, _) = server
        .api_raw(
            "PUT",
            "/api/tariffs/complex-2",
            Some(&mutated("/currency", Some(json!("eur")))),
            Auth::Bearer(&server.token),
        )
        .await
        .unwrap();
    assert_eq!(status, 400);
    // Nothing invalid was stored.
    let (_, list) = server.api("GET", "/api/tariffs", None).await.unwrap();
    assert_eq!(list["total"], 1);
    server.stop().await;
}
