//! OCPI 2.2.1 Sessions, CPO Sender side: a real 1.6 or 2.0.1 charger charges with a roaming
//! token an eMSP pushed, and that eMSP (only) receives the Session's PUT, PATCHes and final
//! COMPLETED, and sees it in `GET /sessions`; a refused token gives an INVALID session; on a
//! connector with a tariff the Session carries its cost and charging periods. SQLite and (when
//! configured) PostgreSQL.

mod common;
mod ocpi_support;

use common::*;
use ocpi_support::{
    assert_lists_endpoint, booted201, booted201_at, booted_at, cpo_settings, create_tariff_t1,
    end201, listed_ids as listed, map_evse, meter, meter201, ocpi_get, push_token, rfid,
    sessions_emsp, start201, t1_connector, PushEmsp, Received,
};
use serde_json::{json, Value};

async fn test_server(db: &TestDb) -> TestServer {
    let mut s = cpo_settings(db);
    // Every energy change may be PATCHed at once.
    s.ocpi.session_update_interval_seconds = 0;
    TestServer::start(&s).await.unwrap()
}

/// The eMSP DE/EMS, registered, with the RFID token `uid` pushed, `valid` or not.
async fn owner_with_token(server: &TestServer, uid: &str, valid: bool) -> PushEmsp {
    let owner = sessions_emsp(server, "EMS").await;
    push_token(server, &owner.token_c, "EMS", uid, valid).await;
    owner
}

/// A Session PUT with status COMPLETED, accepted by the eMSP.
fn completed(r: &Received) -> bool {
    r.method == "PUT" && r.accepted && r.body["status"] == "COMPLETED"
}

/// A Session PATCH to 2.5 kWh, accepted by the eMSP.
fn patched_to_2_5_kwh(r: &Received) -> bool {
    r.method == "PATCH" && r.accepted && r.body["kwh"] == 2.5
}

/// Asserts `other` received no Session and lists none, and `owner` lists exactly `id`.
async fn assert_only_owner_has(
    server: &TestServer,
    owner: &PushEmsp,
    other: &PushEmsp,
    id: &str,
    label: &str,
) -> Value {
    assert!(
        other
            .received()
            .iter()
            .all(|r| !r.path.contains("/sessions/")),
        "{label}: {:?}",
        other.received()
    );
    let (status, _, mine) = get(server, owner, "/ocpi/2.2.1/sessions").await;
    assert_eq!(status, 200, "{label}: {mine}");
    assert_eq!(listed(&mine), vec![id.to_owned()], "{label}");
    let (_, _, theirs) = get(server, other, "/ocpi/2.2.1/sessions").await;
    assert!(listed(&theirs).is_empty(), "{label}: {theirs}");
    mine
}

fn at(path: String, method: &'static str) -> impl Fn(&Received) -> bool {
    move |r| r.method == method && r.path == path && r.accepted
}

async fn get(
    server: &TestServer,
    emsp: &PushEmsp,
    path: &str,
) -> (u16, reqwest::header::HeaderMap, Value) {
    ocpi_get(server, &emsp.token_c, path).await
}

#[tokio::test]
async fn a_roaming_session_is_pushed_to_its_emsp_only_from_start_to_completed() {
    for db in databases().await {
        let label = db.label;
        let server = test_server(&db).await;
        let owner = owner_with_token(&server, "RF-S1", true).await;
        let other = sessions_emsp(&server, "OTH").await;
        let mut cs = booted_at(&server, "CS-S1", "L1").await;
        assert_lists_endpoint(&server, &owner.token_c, "sessions", "SENDER", label).await;

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
        let (i, patch) = owner.wait_for(i + 1, "PATCH kwh", patched_to_2_5_kwh).await;
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
        assert_only_owner_has(&server, &owner, &other, &tx.to_string(), label).await;
        server.stop().await;
    }
}

#[tokio::test]
async fn a_refused_roaming_token_gives_an_invalid_session() {
    for db in databases().await {
        let label = db.label;
        let server = test_server(&db).await;
        let owner = owner_with_token(&server, "RF-BAD", false).await;
        let mut cs = booted_at(&server, "CS-S2", "L1").await;

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

/// The first Session PUT `emsp` received from index `from` on: its index, the session id and the
/// Session object.
async fn session_put(emsp: &PushEmsp, from: usize, what: &str) -> (usize, String, Value) {
    let (i, put) = emsp
        .wait_for(from, what, |r| {
            r.method == "PUT" && r.accepted && r.path.starts_with("/emsp/2.2.1/sessions/NL/CPO/")
        })
        .await;
    let id = put.body["id"].as_str().unwrap_or_default().to_owned();
    assert_eq!(put.path, format!("/emsp/2.2.1/sessions/NL/CPO/{id}"));
    (i, id, put.body)
}

#[tokio::test]
async fn a_2_0_1_roaming_session_is_pushed_to_its_emsp_only_from_start_to_completed() {
    for db in databases().await {
        let label = db.label;
        let server = test_server(&db).await;
        let owner = owner_with_token(&server, "RF-V2", true).await;
        let other = sessions_emsp(&server, "OTH").await;
        let mut cs = booted201_at(&server, "CS-S201", "L1").await;

        // 2.0.1 Authorize asks the same question as the TransactionEvent below.
        let auth = cs
            .call("Authorize", json!({"idToken": rfid("RF-V2")}))
            .await
            .unwrap();
        assert_eq!(auth["idTokenInfo"]["status"], "Accepted", "{label}");
        let started = start201(&mut cs, "V2-TX1", &now(), 1000, "RF-V2").await;
        assert_eq!(started["idTokenInfo"]["status"], "Accepted", "{label}");
        let (i, id, s) = session_put(&owner, 0, "PUT ACTIVE").await;
        assert_eq!(s["status"], "ACTIVE", "{label}: {s}");
        assert_eq!(s["location_id"], "L1", "{label}");
        assert_eq!(s["evse_uid"], "E1", "{label}");
        assert_eq!(s["connector_id"], "1", "{label}");
        assert_eq!(s["cdr_token"]["uid"], "RF-V2", "{label}");
        assert_eq!(s["cdr_token"]["type"], "RFID", "{label}");
        assert_eq!(s["auth_method"], "WHITELIST", "{label}");
        assert_eq!(s["kwh"], 0.0, "{label}");
        // The Session id is our transaction id, the one the operator API shows.
        let (_, list) = server
            .api("GET", "/api/transactions?station_id=CS-S201", None)
            .await
            .unwrap();
        assert_eq!(list["items"][0]["id"].to_string(), id, "{label}: {list}");

        meter201(&mut cs, "V2-TX1", 1, &now(), 3500).await;
        let path = format!("/emsp/2.2.1/sessions/NL/CPO/{id}");
        let (i, patch) = owner.wait_for(i + 1, "PATCH kwh", patched_to_2_5_kwh).await;
        assert_eq!(patch.path, path, "{label}");
        assert!(patch.body["last_updated"].is_string(), "{label}: {patch:?}");

        end201(&mut cs, "V2-TX1", 2, &now(), 6000).await;
        let (_, done) = owner.wait_for(i + 1, "COMPLETED", completed).await;
        assert_eq!(done.path, path, "{label}");
        assert_eq!(done.body["kwh"], 5.0, "{label}: {:?}", done.body);
        assert!(
            done.body["end_date_time"].is_string(),
            "{label}: {:?}",
            done.body
        );

        let mine = assert_only_owner_has(&server, &owner, &other, &id, label).await;
        assert_eq!(mine["data"][0]["status"], "COMPLETED", "{label}: {mine}");
        server.stop().await;
    }
}

#[tokio::test]
async fn a_2_0_1_session_starts_when_its_roaming_token_arrives_after_the_cable() {
    for db in databases().await {
        let label = db.label;
        let server = test_server(&db).await;
        let owner = owner_with_token(&server, "RF-LATE", true).await;
        let mut cs = booted201_at(&server, "CS-S203", "L1").await;

        // 2.0.1 E02: the transaction starts when the cable is plugged in, before any token.
        cs.tx_event(
            "Started",
            "V2-TX3",
            0,
            &now(),
            "CablePluggedIn",
            Some(500),
            json!({"evse": {"id": 1, "connectorId": 1}}),
        )
        .await
        .unwrap();
        let answer = cs
            .tx_event(
                "Updated",
                "V2-TX3",
                1,
                &now(),
                "Authorized",
                None,
                json!({"idToken": rfid("RF-LATE")}),
            )
            .await
            .unwrap();
        assert_eq!(answer["idTokenInfo"]["status"], "Accepted", "{label}");
        let (i, _, s) = session_put(&owner, 0, "PUT once authorized").await;
        assert_eq!(s["status"], "ACTIVE", "{label}: {s}");
        assert_eq!(s["cdr_token"]["uid"], "RF-LATE", "{label}");
        // Exactly one start PUT: the earlier tokenless event pushed nothing.
        assert_eq!(i, 0, "{label}: {:?}", owner.received());
        server.stop().await;
    }
}

#[tokio::test]
async fn a_2_0_1_refused_roaming_token_gives_an_invalid_session() {
    for db in databases().await {
        let label = db.label;
        let server = test_server(&db).await;
        let owner = owner_with_token(&server, "RF-BAD2", false).await;
        let mut cs = booted201_at(&server, "CS-S202", "L1").await;

        let started = start201(&mut cs, "V2-TX2", &now(), 0, "RF-BAD2").await;
        assert_eq!(started["idTokenInfo"]["status"], "Blocked", "{label}");
        let (_, _, s) = session_put(&owner, 0, "PUT INVALID").await;
        assert_eq!(s["status"], "INVALID", "{label}: {s}");
        server.stop().await;
    }
}

/// Tariff T1 (0.25/kWh and 1.00 per session, 20 % VAT) on the connector of Location L1 EVSE E1
/// = station `station` EVSE 1.
async fn map_priced_evse(server: &TestServer, station: &str) {
    let (status, body) = create_tariff_t1(server).await;
    assert_eq!(status, 201, "{body}");
    map_evse(server, "L1", "E1", station).await;
    let (status, body) = server
        .api(
            "PUT",
            "/api/locations/L1/evses/E1",
            Some(json!({"station_id": station, "evse_id": 1, "connectors": [t1_connector()]})),
        )
        .await
        .unwrap();
    assert_eq!(status, 200, "{body}");
}

#[tokio::test]
async fn a_priced_2_0_1_session_carries_its_running_cost_and_charging_periods() {
    for db in databases().await {
        let label = db.label;
        let server = test_server(&db).await;
        let owner = owner_with_token(&server, "RF-PRICED", true).await;
        let mut cs = booted201(&server, "CS-S204").await;
        map_priced_evse(&server, "CS-S204").await;

        start201(&mut cs, "V2-TX4", &at_minute(0), 1000, "RF-PRICED").await;
        let (i, id, s) = session_put(&owner, 0, "PUT ACTIVE").await;
        // The session fee is due from the start.
        assert_eq!(s["total_cost"]["excl_vat"], 1.0, "{label}: {s}");
        assert_eq!(s["total_cost"]["incl_vat"], 1.2, "{label}: {s}");

        meter201(&mut cs, "V2-TX4", 1, &at_minute(30), 3500).await;
        let (i, _) = owner.wait_for(i + 1, "PATCH kwh", patched_to_2_5_kwh).await;
        // The running cost, as the eMSP reads the Session.
        let (_, _, list) = get(&server, &owner, "/ocpi/2.2.1/sessions").await;
        let p = &list["data"][0];
        assert_eq!(p["kwh"], 2.5, "{label}: {p}");
        assert_eq!(p["total_cost"]["excl_vat"], 1.625, "{label}: {p}");
        assert_eq!(p["total_cost"]["incl_vat"], 1.95, "{label}: {p}");
        let periods = p["charging_periods"].as_array().expect("charging_periods");
        assert_eq!(periods[0]["tariff_id"], "T1", "{label}: {p}");
        assert_eq!(
            periods[0]["start_date_time"], "2025-03-01T08:00:00Z",
            "{label}: {p}"
        );
        let energy: f64 = periods
            .iter()
            .flat_map(|p| p["dimensions"].as_array().cloned().unwrap_or_default())
            .filter(|d| d["type"] == "ENERGY")
            .map(|d| d["volume"].as_f64().unwrap_or_default())
            .sum();
        assert!((energy - 2.5).abs() < 1e-9, "{label}: {p}");

        end201(&mut cs, "V2-TX4", 2, &at_minute(60), 6000).await;
        let (_, done) = owner
            .wait_for(i + 1, "COMPLETED with cost", completed)
            .await;
        assert_eq!(done.path, format!("/emsp/2.2.1/sessions/NL/CPO/{id}"));
        assert_eq!(
            done.body["total_cost"]["excl_vat"], 2.25,
            "{label}: {:?}",
            done.body
        );
        assert_eq!(
            done.body["total_cost"]["incl_vat"], 2.7,
            "{label}: {:?}",
            done.body
        );
        server.stop().await;
    }
}

#[tokio::test]
async fn a_2_0_1_session_replayed_out_of_order_is_completed_again_with_its_true_energy() {
    for db in databases().await {
        let label = db.label;
        let server = test_server(&db).await;
        let owner = owner_with_token(&server, "RF-REPLAY", true).await;
        let mut cs = booted201_at(&server, "CS-S205", "L1").await;

        // Back from offline, the station delivers the Ended event before the Started one.
        let token = json!({"idToken": rfid("RF-REPLAY"), "evse": {"id": 1, "connectorId": 1}});
        let mut ended = token.clone();
        ended["transactionInfo"] = json!({"stoppedReason": "Local"});
        cs.tx_event(
            "Ended",
            "V2-TX5",
            2,
            &at_minute(60),
            "StopAuthorized",
            Some(6000),
            ended,
        )
        .await
        .unwrap();
        let (i, _) = owner.wait_for(0, "COMPLETED", completed).await;
        cs.tx_event(
            "Started",
            "V2-TX5",
            0,
            &at_minute(0),
            "Authorized",
            Some(1000),
            token,
        )
        .await
        .unwrap();
        let (_, again) = owner.wait_for(i + 1, "COMPLETED again", completed).await;
        assert_eq!(again.body["kwh"], 5.0, "{label}: {:?}", again.body);
        assert_eq!(
            again.body["start_date_time"], "2025-03-01T08:00:00Z",
            "{label}: {:?}",
            again.body
        );
        server.stop().await;
    }
}
