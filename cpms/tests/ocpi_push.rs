//! The OCPI push outbox as a registered eMSP with Locations and Tariffs RECEIVER endpoints meets
//! it (OCPI 2.2.1 Locations and Tariffs, Receiver interfaces): EVSE status PATCHes from a 1.6
//! charger, Location and Tariff PUTs and DELETEs from operator actions, retries with backoff,
//! parking and redelivery, delivery across a restart, and the offline grace.

mod common;
mod ocpi_support;

use std::time::{Duration, Instant};

use common::*;
use ocpi_support::{token, Failure, PushEmsp, Received, EMSP_TOKEN};
use serde_json::{json, Value};

fn push_settings(db: &TestDb, grace: u64, max_attempts: u32) -> cpms::config::Settings {
    let mut s = settings(db);
    s.ocpi.allow_private_partner_urls = true;
    s.ocpi.country_code = "NL".into();
    s.ocpi.party_id = "CPO".into();
    s.ocpi.offline_grace_seconds = grace;
    s.ocpi.push_retry_base_seconds = 0.05;
    s.ocpi.push_retry_max_seconds = 1;
    s.ocpi.push_max_attempts = max_attempts;
    s
}

async fn api(server: &TestServer, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
    server.api(method, path, body).await.unwrap()
}

fn site(name: &str) -> Value {
    json!({
        "id": "L1", "name": name, "address": "Stationsplein 1", "city": "Amsterdam",
        "country": "NLD", "coordinates": {"latitude": "52.378900", "longitude": "4.900160"},
        "time_zone": "Europe/Amsterdam",
    })
}

fn tariff(price: f64) -> Value {
    json!({"id": "T1", "currency": "EUR", "elements": [{"price_components": [
        {"type": "ENERGY", "price": price, "step_size": 1}]}]})
}

const EVSE_PATH: &str = "/emsp/2.2.1/locations/NL/CPO/L1/E1";

fn evse_patch(status: &'static str) -> impl Fn(&Received) -> bool {
    move |r| r.method == "PATCH" && r.path == EVSE_PATH && r.accepted && r.body["status"] == status
}

/// Location L1 with EVSE E1 = station `station` EVSE 1.
async fn map_evse(server: &TestServer, station: &str) {
    let (status, body) = api(server, "POST", "/api/locations", Some(site("Central"))).await;
    assert_eq!(status, 201, "{body}");
    let (status, body) = api(
        server,
        "PUT",
        "/api/locations/L1/evses/E1",
        Some(json!({"station_id": station, "evse_id": 1})),
    )
    .await;
    assert_eq!(status, 201, "{body}");
}

#[tokio::test]
async fn status_changes_are_patched_to_the_emsp_latest_last() {
    for db in databases().await {
        let label = db.label;
        let server = TestServer::start(&push_settings(&db, 300, 10))
            .await
            .unwrap();
        let emsp = PushEmsp::register(&server).await;
        let mut cs = server.connect("CS1").await.unwrap();
        cs.boot().await.unwrap();
        map_evse(&server, "CS1").await;

        cs.status(1, "Charging").await.unwrap();
        let (i, patch) = emsp
            .wait_for(0, "PATCH CHARGING", evse_patch("CHARGING"))
            .await;
        assert_eq!(
            patch.authorization.as_deref(),
            Some(token(EMSP_TOKEN).as_str()),
            "{label}"
        );
        assert!(patch.body["last_updated"].is_string(), "{label}: {patch:?}");
        cs.status(1, "Available").await.unwrap();
        let (i, _) = emsp
            .wait_for(i + 1, "PATCH AVAILABLE", evse_patch("AVAILABLE"))
            .await;

        // A burst while the eMSP is down: it ends up with the latest status.
        emsp.fail(usize::MAX, Failure::Http500);
        for s in ["Preparing", "Charging", "Available", "Faulted"] {
            cs.status(1, s).await.unwrap();
        }
        emsp.recover();
        let (j, _) = emsp
            .wait_for(i + 1, "PATCH OUTOFORDER", evse_patch("OUTOFORDER"))
            .await;
        let later: Vec<Received> = emsp
            .received()
            .into_iter()
            .skip(j)
            .filter(|r| r.path == EVSE_PATH && r.accepted)
            .collect();
        assert!(
            later.iter().all(|r| r.body["status"] == "OUTOFORDER"),
            "{label}: an older status after the latest: {later:?}"
        );
        drop(cs);
        server.stop().await;
    }
}

#[tokio::test]
async fn operator_actions_put_locations_and_put_or_delete_tariffs() {
    for db in databases().await {
        let label = db.label;
        let server = TestServer::start(&push_settings(&db, 300, 10))
            .await
            .unwrap();
        let emsp = PushEmsp::register(&server).await;

        let put_location = |name: &'static str| {
            move |r: &Received| {
                r.method == "PUT"
                    && r.path == "/emsp/2.2.1/locations/NL/CPO/L1"
                    && r.body["name"] == name
                    && r.accepted
            }
        };
        assert_eq!(
            api(&server, "POST", "/api/locations", Some(site("A")))
                .await
                .0,
            201
        );
        let (i, put) = emsp.wait_for(0, "PUT Location A", put_location("A")).await;
        assert_eq!(put.body["id"], "L1", "{label}");
        assert_eq!(put.body["country_code"], "NL");
        let (status, _) = api(
            &server,
            "PATCH",
            "/api/locations/L1",
            Some(json!({"name": "B"})),
        )
        .await;
        assert_eq!(status, 200, "{label}");
        emsp.wait_for(i + 1, "PUT Location B", put_location("B"))
            .await;

        let tariff_at = |method: &'static str| {
            move |r: &Received| {
                r.method == method && r.path == "/emsp/2.2.1/tariffs/NL/CPO/T1" && r.accepted
            }
        };
        assert_eq!(
            api(&server, "POST", "/api/tariffs", Some(tariff(0.25)))
                .await
                .0,
            201
        );
        let (i, put) = emsp.wait_for(0, "PUT Tariff", tariff_at("PUT")).await;
        assert_eq!(
            put.body["elements"][0]["price_components"][0]["price"],
            0.25
        );
        assert_eq!(
            api(&server, "PUT", "/api/tariffs/T1", Some(tariff(0.3)))
                .await
                .0,
            200
        );
        let (i, put) = emsp
            .wait_for(i + 1, "PUT Tariff again", tariff_at("PUT"))
            .await;
        assert_eq!(put.body["elements"][0]["price_components"][0]["price"], 0.3);
        assert_eq!(api(&server, "DELETE", "/api/tariffs/T1", None).await.0, 204);
        emsp.wait_for(i + 1, "DELETE Tariff", tariff_at("DELETE"))
            .await;
        server.stop().await;
    }
}

/// Polls the operator API until `ready` holds for the answer, at most `WAIT`.
async fn until(server: &TestServer, path: &str, ready: impl Fn(&Value) -> bool) -> Value {
    let deadline = Instant::now() + WAIT;
    loop {
        let (status, body) = api(server, "GET", path, None).await;
        assert_eq!(status, 200, "{body}");
        if ready(&body) {
            return body;
        }
        assert!(Instant::now() < deadline, "timed out on {path}: {body}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn failed_pushes_are_retried_then_parked_and_redelivered() {
    let db = sqlite();
    let server = TestServer::start(&push_settings(&db, 300, 2))
        .await
        .unwrap();
    let emsp = PushEmsp::register(&server).await;
    let put = |r: &Received| r.method == "PUT" && r.path == "/emsp/2.2.1/tariffs/NL/CPO/T1";

    // One failure, then the retry goes through.
    emsp.fail(1, Failure::Ocpi3000);
    assert_eq!(
        api(&server, "POST", "/api/tariffs", Some(tariff(0.25)))
            .await
            .0,
        201
    );
    let (i, first) = emsp.wait_for(0, "the failing PUT", put).await;
    assert!(!first.accepted);
    let (i, _) = emsp
        .wait_for(i + 1, "the retried PUT", |r| put(r) && r.accepted)
        .await;

    // Down for good: two attempts (HTTP 500, OCPI 2001), then parked.
    emsp.fail(usize::MAX, Failure::Http500);
    assert_eq!(
        api(&server, "PUT", "/api/tariffs/T1", Some(tariff(0.3)))
            .await
            .0,
        200
    );
    let (i, _) = emsp.wait_for(i + 1, "attempt 1", put).await;
    emsp.fail(usize::MAX, Failure::Ocpi2001);
    emsp.wait_for(i + 1, "attempt 2", put).await;
    let parked = until(&server, "/api/ocpi/outbox?state=parked", |b| {
        b["total"] == 1
    })
    .await;
    let row = &parked["items"][0];
    assert_eq!(row["object_key"], "T1");
    assert_eq!(row["operation"], "PUT");
    assert_eq!(row["attempts"], 2);
    let id = row["id"].as_i64().unwrap();

    emsp.recover();
    let (status, body) = api(
        &server,
        "POST",
        &format!("/api/ocpi/outbox/{id}/redeliver"),
        None,
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let n = emsp.received().len();
    let (_, delivered) = emsp
        .wait_for(n, "the redelivered PUT", |r| put(r) && r.accepted)
        .await;
    assert_eq!(
        delivered.body["elements"][0]["price_components"][0]["price"],
        0.3
    );
    until(&server, "/api/ocpi/outbox?state=parked", |b| {
        b["total"] == 0
    })
    .await;
    // Only parked rows can be redelivered.
    let (status, _) = api(
        &server,
        "POST",
        &format!("/api/ocpi/outbox/{id}/redeliver"),
        None,
    )
    .await;
    assert_eq!(status, 404);
    server.stop().await;
}

#[tokio::test]
async fn a_pending_push_survives_a_restart() {
    for db in databases().await {
        let label = db.label;
        let s = push_settings(&db, 300, 10);
        let server = TestServer::start(&s).await.unwrap();
        let emsp = PushEmsp::register(&server).await;
        emsp.fail(usize::MAX, Failure::Http500);
        assert_eq!(
            api(&server, "POST", "/api/tariffs", Some(tariff(0.25)))
                .await
                .0,
            201
        );
        emsp.wait_for(0, "a failing PUT", |r| r.method == "PUT")
            .await;
        server.stop().await;

        let server = TestServer::start(&s).await.unwrap();
        let n = emsp.received().len();
        emsp.recover();
        emsp.wait_for(n, "the PUT after the restart", |r| {
            r.method == "PUT" && r.path == "/emsp/2.2.1/tariffs/NL/CPO/T1" && r.accepted
        })
        .await;
        let pending = until(&server, "/api/ocpi/outbox?state=pending", |b| {
            b["total"] == 0
        })
        .await;
        assert_eq!(pending["total"], 0, "{label}");
        server.stop().await;
    }
}

#[tokio::test]
async fn a_disconnected_station_is_patched_unknown_after_the_grace() {
    for db in databases().await {
        let label = db.label;
        let server = TestServer::start(&push_settings(&db, 1, 10)).await.unwrap();
        let emsp = PushEmsp::register(&server).await;
        let mut cs = server.connect("CS1").await.unwrap();
        cs.boot().await.unwrap();
        map_evse(&server, "CS1").await;
        cs.status(1, "Available").await.unwrap();
        let (i, _) = emsp
            .wait_for(0, "PATCH AVAILABLE", evse_patch("AVAILABLE"))
            .await;

        let closed = Instant::now();
        cs.close().await.unwrap();
        emsp.wait_for(i + 1, "PATCH UNKNOWN", evse_patch("UNKNOWN"))
            .await;
        assert!(
            closed.elapsed() >= Duration::from_millis(900),
            "{label}: UNKNOWN before the grace ran out"
        );
        server.stop().await;
    }
}
