//! OCPI 2.2.1 Sessions, CPO Sender side: a real 1.6 charger charges with a roaming token an eMSP
//! pushed, and that eMSP (only) receives the Session's PUT, PATCHes and final COMPLETED, and
//! sees it in `GET /sessions`; a refused token gives an INVALID session. SQLite and (when
//! configured) PostgreSQL.

mod common;
mod ocpi_support;

use common::*;
use ocpi_support::{ocpi, sessions_emsp, token, PushEmsp, Received};
use serde_json::{json, Value};

async fn test_server(db: &TestDb) -> TestServer {
    let mut s = settings(db);
    s.ocpi.allow_private_partner_urls = true;
    s.ocpi.country_code = "NL".into();
    s.ocpi.party_id = "CPO".into();
    s.ocpi.push_retry_base_seconds = 0.05;
    s.ocpi.push_retry_max_seconds = 1;
    // Every energy change may be PATCHed at once.
    s.ocpi.session_update_interval_seconds = 0;
    TestServer::start(&s).await.unwrap()
}

/// The eMSP `emsp` (party DE/`party`) pushes an RFID token `uid`, whitelisted ALWAYS.
async fn push_token(server: &TestServer, emsp: &PushEmsp, party: &str, uid: &str, valid: bool) {
    let (status, _, body) = ocpi(
        server,
        "PUT",
        &format!("/ocpi/2.2.1/tokens/DE/{party}/{uid}"),
        Some(&token(&emsp.token_c)),
        Some(json!({
            "country_code": "DE", "party_id": party, "uid": uid, "type": "RFID",
            "contract_id": "DE-EMS-C12345678-9", "issuer": "Test eMSP", "valid": valid,
            "whitelist": "ALWAYS", "last_updated": "2026-01-01T00:00:00Z",
        })),
    )
    .await;
    assert_eq!(
        (status, body["status_code"].clone()),
        (200, json!(1000)),
        "{body}"
    );
}

/// Location L1 with EVSE E1 = station `station` EVSE 1.
async fn map_evse(server: &TestServer, station: &str) {
    let (status, body) = server
        .api(
            "POST",
            "/api/locations",
            Some(json!({
                "id": "L1", "name": "Central", "address": "Stationsplein 1", "city": "Amsterdam",
                "country": "NLD", "coordinates": {"latitude": "52.378900", "longitude": "4.900160"},
                "time_zone": "Europe/Amsterdam",
            })),
        )
        .await
        .unwrap();
    assert_eq!(status, 201, "{body}");
    let (status, body) = server
        .api(
            "PUT",
            "/api/locations/L1/evses/E1",
            Some(json!({"station_id": station, "evse_id": 1})),
        )
        .await
        .unwrap();
    assert_eq!(status, 201, "{body}");
}

fn at(path: String, method: &'static str) -> impl Fn(&Received) -> bool {
    move |r| r.method == method && r.path == path && r.accepted
}

async fn meter(cs: &mut Charger, tx: i64, wh: i64) {
    cs.call(
        "MeterValues",
        json!({"connectorId": 1, "transactionId": tx, "meterValue": [{"timestamp": now(),
            "sampledValue": [{"value": wh.to_string(), "measurand": "Energy.Active.Import.Register", "unit": "Wh"}]}]}),
    )
    .await
    .unwrap();
}

async fn get(
    server: &TestServer,
    emsp: &PushEmsp,
    path: &str,
) -> (u16, reqwest::header::HeaderMap, Value) {
    ocpi(server, "GET", path, Some(&token(&emsp.token_c)), None).await
}

fn listed(body: &Value) -> Vec<String> {
    body["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["id"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn a_roaming_session_is_pushed_to_its_emsp_only_from_start_to_completed() {
    for db in databases().await {
        let label = db.label;
        let server = test_server(&db).await;
        let owner = sessions_emsp(&server, "EMS").await;
        let other = sessions_emsp(&server, "OTH").await;
        push_token(&server, &owner, "EMS", "RF-S1", true).await;
        let mut cs = server.connect("CS-S1").await.unwrap();
        cs.boot().await.unwrap();
        map_evse(&server, "CS-S1").await;

        let (_, _, details) = get(&server, &owner, "/ocpi/2.2.1").await;
        assert!(
            details["data"]["endpoints"]
                .as_array()
                .unwrap()
                .iter()
                .any(|e| e["identifier"] == "sessions" && e["role"] == "SENDER"),
            "{label}: {details}"
        );

        let started = cs.start(1, "RF-S1", 1000, &now()).await.unwrap();
        assert_eq!(started["idTagInfo"]["status"], "Accepted", "{label}");
        let tx = started["transactionId"].as_i64().unwrap();
        let path = format!("/emsp/2.2.1/sessions/NL/CPO/{tx}");
        let (i, put) = owner
            .wait_for(0, "PUT ACTIVE", at(path.clone(), "PUT"))
            .await;
        let s = &put.body;
        assert_eq!(s["status"], "ACTIVE", "{label}: {s}");
        assert_eq!(s["id"], tx.to_string(), "{label}");
        assert_eq!(
            (s["country_code"].clone(), s["party_id"].clone()),
            (json!("NL"), json!("CPO")),
            "{label}"
        );
        assert_eq!(s["location_id"], "L1", "{label}");
        assert_eq!(s["evse_uid"], "E1", "{label}");
        assert_eq!(s["connector_id"], "1", "{label}");
        assert_eq!(s["cdr_token"]["uid"], "RF-S1", "{label}");
        assert_eq!(
            s["cdr_token"]["contract_id"], "DE-EMS-C12345678-9",
            "{label}"
        );
        assert_eq!(s["cdr_token"]["type"], "RFID", "{label}");
        assert_eq!(s["auth_method"], "WHITELIST", "{label}");
        assert_eq!(s["currency"], "EUR", "{label}");
        assert_eq!(s["kwh"], 0.0, "{label}");

        meter(&mut cs, tx, 3500).await;
        let (i, patch) = owner
            .wait_for(i + 1, "PATCH kwh", move |r| {
                r.method == "PATCH" && r.accepted && r.body["kwh"] == 2.5
            })
            .await;
        assert_eq!(patch.path, path, "{label}");
        assert!(patch.body["last_updated"].is_string(), "{label}: {patch:?}");

        cs.stop(tx, 6000, "Local").await.unwrap();
        let (_, done) = owner
            .wait_for(i + 1, "COMPLETED", move |r| {
                r.accepted && r.body["status"] == "COMPLETED"
            })
            .await;
        assert_eq!(done.body["kwh"], 5.0, "{label}: {:?}", done.body);
        assert!(
            done.body["end_date_time"].is_string(),
            "{label}: {:?}",
            done.body
        );

        // Only the owning eMSP receives and lists it.
        assert!(
            other
                .received()
                .iter()
                .all(|r| !r.path.contains("/sessions/")),
            "{label}: {:?}",
            other.received()
        );
        let (status, _, mine) = get(&server, &owner, "/ocpi/2.2.1/sessions").await;
        assert_eq!(status, 200, "{label}: {mine}");
        assert_eq!(listed(&mine), vec![tx.to_string()], "{label}");
        let (_, _, theirs) = get(&server, &other, "/ocpi/2.2.1/sessions").await;
        assert!(listed(&theirs).is_empty(), "{label}: {theirs}");
        server.stop().await;
    }
}

#[tokio::test]
async fn a_refused_roaming_token_gives_an_invalid_session() {
    for db in databases().await {
        let label = db.label;
        let server = test_server(&db).await;
        let owner = sessions_emsp(&server, "EMS").await;
        push_token(&server, &owner, "EMS", "RF-BAD", false).await;
        let mut cs = server.connect("CS-S2").await.unwrap();
        cs.boot().await.unwrap();
        map_evse(&server, "CS-S2").await;

        let started = cs.start(1, "RF-BAD", 0, &now()).await.unwrap();
        assert_eq!(started["idTagInfo"]["status"], "Blocked", "{label}");
        let tx = started["transactionId"].as_i64().unwrap();
        let (_, put) = owner
            .wait_for(
                0,
                "PUT INVALID",
                at(format!("/emsp/2.2.1/sessions/NL/CPO/{tx}"), "PUT"),
            )
            .await;
        assert_eq!(put.body["status"], "INVALID", "{label}: {:?}", put.body);
        server.stop().await;
    }
}
