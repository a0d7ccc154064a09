//! OCPI 2.2.1 CDRs, CPO Sender side: a real 1.6 charger charges with a roaming token an eMSP
//! pushed; at the stop exactly one priced CDR is POSTed to that eMSP (only), kept exactly once
//! across a lost answer and a restart, listed by `GET /cdrs` to its owner only, and credited
//! once through the operator API. Sessions that cannot be billed are listed with the reason.
//! SQLite and (when configured) PostgreSQL.

mod common;
mod ocpi_support;

use common::*;
use ocpi_support::{
    assert_lists_endpoint, booted, booted201, cpo_settings, create_tariff_t1, end201,
    listed_ids as ids, map_location, meter, meter201, ocpi, ocpi_get, push_token, start201,
    t1_connector, token, CdrAnswer, CdrEmsp,
};
use rust_decimal::Decimal;
use serde_json::{json, Value};

/// Tariff T1 and Location L1 with EVSE E1 = station `station` EVSE 1, its connector priced by
/// T1.
async fn map_priced_evse(server: &TestServer, station: &str) {
    let (status, body) = create_tariff_t1(server).await;
    assert!(status == 201 || status == 409, "{body}");
    map_location(
        server,
        "L1",
        "E1",
        json!({"station_id": station, "evse_id": 1, "evse_id_emi3": "NL*CPO*E1",
               "connectors": [t1_connector()]}),
    )
    .await;
}

/// The eMSP DE/EMS, registered, with the RFID token `uid` pushed, and a booted 1.6 charger
/// `station` on priced EVSE E1.
async fn roaming_station(server: &TestServer, uid: &str, station: &str) -> (CdrEmsp, Charger) {
    let owner = CdrEmsp::register(server, "EMS").await;
    push_token(server, &owner.token_c, "EMS", uid, true).await;
    let cs = booted(server, station).await;
    map_priced_evse(server, station).await;
    (owner, cs)
}

/// Asserts a Price's `excl_vat` and `incl_vat`, in cents.
fn assert_price(price: &Value, excl_cents: i64, incl_cents: i64, context: &str) {
    assert_eq!(
        (dec(&price["excl_vat"]), dec(&price["incl_vat"])),
        (Decimal::new(excl_cents, 2), Decimal::new(incl_cents, 2)),
        "{context}"
    );
}

/// The operator asks for a credit CDR for `cdr_id`; returns the HTTP status and body.
async fn ask_credit(server: &TestServer, cdr_id: &str) -> (u16, Value) {
    server
        .api("POST", &format!("/api/ocpi/cdrs/{cdr_id}/credit"), None)
        .await
        .unwrap()
}

/// Asserts the operator API lists `total` CDRs.
async fn assert_cdr_total(server: &TestServer, total: u64, label: &str) {
    let (_, all) = server.api("GET", "/api/ocpi/cdrs", None).await.unwrap();
    assert_eq!(all["total"], total, "{label}: {all}");
}

/// `cs` charges `uid` on connector 1 from 1000 Wh to 3500 Wh (a meter value); stopped at
/// 6000 Wh that is 5 kWh. Returns the transaction id.
async fn charge(cs: &mut Charger, uid: &str) -> i64 {
    let started = cs.start(1, uid, 1000, &now()).await.unwrap();
    assert_eq!(started["idTagInfo"]["status"], "Accepted", "{started}");
    let tx = started["transactionId"].as_i64().unwrap();
    meter(cs, tx, 3500).await;
    tx
}

/// A signed reading as an OCMF meter produces it.
const SIGNED: &str = r#"OCMF|{"FV":"1.0","RD":[{"RV":4.0,"RU":"kWh"}]}|{"SD":"3045022100AB"}"#;

/// An exact JSON number as a Decimal.
fn dec(v: &Value) -> Decimal {
    v.to_string()
        .parse()
        .unwrap_or_else(|_| panic!("not a number: {v}"))
}

#[tokio::test]
async fn a_completed_roaming_session_gives_its_emsp_one_priced_cdr_and_one_credit() {
    for db in databases().await {
        let label = db.label;
        let server = TestServer::start(&cpo_settings(&db)).await.unwrap();
        let (owner, mut cs) = roaming_station(&server, "RF-C1", "CS-C1").await;
        let other = CdrEmsp::register(&server, "OTH").await;
        assert_lists_endpoint(&server, &owner.token_c, "cdrs", "SENDER", label).await;

        let tx = charge(&mut cs, "RF-C1").await;
        // A meter that signs its readings (1.6 SampledValue format SignedData).
        cs.call(
            "MeterValues",
            json!({"connectorId": 1, "transactionId": tx, "meterValue": [{"timestamp": now(),
                "sampledValue": [
                    {"value": "4000", "measurand": "Energy.Active.Import.Register", "unit": "Wh"},
                    {"value": SIGNED, "measurand": "Energy.Active.Import.Register", "unit": "Wh",
                     "format": "SignedData"}]}]}),
        )
        .await
        .unwrap();
        cs.stop(tx, 6000, "Local").await.unwrap();
        owner.wait_delivered("the CDR").await;
        let stored = owner.stored();
        assert_eq!(stored.len(), 1, "{label}: {stored:#?}");
        let cdr = &stored[0];
        let cdr_id = cdr["id"].as_str().unwrap().to_owned();
        assert!(cdr_id.len() <= 36, "{label}: {cdr_id}");
        assert_eq!(
            (cdr["country_code"].clone(), cdr["party_id"].clone()),
            (json!("NL"), json!("CPO")),
            "{label}"
        );
        assert_eq!(cdr["session_id"], tx.to_string(), "{label}");
        assert_eq!(cdr["currency"], "EUR", "{label}");
        assert_eq!(cdr["auth_method"], "WHITELIST", "{label}");
        assert_eq!(cdr["cdr_token"]["uid"], "RF-C1", "{label}");
        assert_eq!(cdr["cdr_token"]["type"], "RFID", "{label}");
        assert_eq!(
            cdr["cdr_token"]["contract_id"], "DE-EMS-C12345678-9",
            "{label}"
        );
        let place = &cdr["cdr_location"];
        assert_eq!(place["id"], "L1", "{label}: {place}");
        assert_eq!(place["address"], "Stationsplein 1", "{label}");
        assert_eq!(place["coordinates"]["latitude"], "52.378900", "{label}");
        assert_eq!(place["evse_uid"], "E1", "{label}");
        assert_eq!(place["evse_id"], "NL*CPO*E1", "{label}");
        assert_eq!(place["connector_id"], "1", "{label}");
        assert_eq!(place["connector_standard"], "IEC_62196_T2", "{label}");
        assert_eq!(place["connector_power_type"], "AC_3_PHASE", "{label}");
        assert_eq!(cdr["tariffs"][0]["id"], "T1", "{label}");
        assert_eq!(cdr["tariffs"][0]["country_code"], "NL", "{label}");
        assert!(
            !cdr["charging_periods"].as_array().unwrap().is_empty(),
            "{label}: {cdr}"
        );
        // The meter delta: 6000 - 1000 Wh.
        assert_eq!(
            dec(&cdr["total_energy"]),
            Decimal::new(5, 0),
            "{label}: {cdr}"
        );
        // 5 kWh x 0.25 + 1.00 flat = 2.25; with 20 % VAT 2.70.
        assert_price(&cdr["total_cost"], 225, 270, &format!("{label}: {cdr}"));
        assert_eq!(
            dec(&cdr["total_energy_cost"]["excl_vat"]),
            Decimal::new(125, 2),
            "{label}"
        );
        assert_eq!(
            dec(&cdr["total_fixed_cost"]["excl_vat"]),
            Decimal::new(100, 2),
            "{label}"
        );
        assert!(cdr.get("credit").is_none(), "{label}");
        let signed = &cdr["signed_data"];
        assert_eq!(signed["encoding_method"], "OCMF", "{label}: {signed}");
        assert_eq!(signed["signed_values"][0]["signed_data"], SIGNED, "{label}");
        assert_eq!(signed["signed_values"][0]["plain_data"], "4000", "{label}");
        assert!(cdr["last_updated"].is_string(), "{label}");

        // Only the owner receives and lists it, paginated like every module.
        assert!(other.posts().is_empty(), "{label}: {:?}", other.posts());
        let (status, headers, mine) =
            ocpi_get(&server, &owner.token_c, "/ocpi/2.2.1/cdrs?limit=10").await;
        assert_eq!(status, 200, "{label}: {mine}");
        assert_eq!(ids(&mine), vec![cdr_id.clone()], "{label}");
        assert_eq!(headers["x-total-count"], "1", "{label}");
        // X-Limit is the server's maximum page size (Transport and format: Pagination).
        assert!(headers.contains_key("x-limit"), "{label}: {headers:?}");
        assert_eq!(mine["data"][0], *cdr, "{label}: the GET and the POST agree");
        let (_, _, before) = ocpi_get(
            &server,
            &owner.token_c,
            "/ocpi/2.2.1/cdrs?date_to=2020-01-01T00:00:00Z",
        )
        .await;
        assert!(ids(&before).is_empty(), "{label}: {before}");
        let (_, _, theirs) = ocpi_get(&server, &other.token_c, "/ocpi/2.2.1/cdrs").await;
        assert!(ids(&theirs).is_empty(), "{label}: {theirs}");

        // A credit CDR: all the data, only total_cost negated; once.
        let (status, credit) = ask_credit(&server, &cdr_id).await;
        assert_eq!(status, 201, "{label}: {credit}");
        let credit_id = format!("{cdr_id}-C");
        assert_eq!(credit["id"], credit_id, "{label}");
        owner.wait_credit().await;
        let posted = owner
            .stored()
            .into_iter()
            .find(|c| c["id"] == credit_id.as_str())
            .unwrap();
        assert_eq!(posted["credit_reference_id"], cdr_id.as_str(), "{label}");
        assert_price(&posted["total_cost"], -225, -270, label);
        assert_eq!(dec(&posted["total_energy"]), Decimal::new(5, 0), "{label}");
        assert_eq!(
            posted["total_energy_cost"], cdr["total_energy_cost"],
            "{label}"
        );
        let (status, again) = ask_credit(&server, &cdr_id).await;
        assert_eq!(status, 409, "{label}: {again}");
        let (status, _) = ask_credit(&server, &credit_id).await;
        assert_eq!(status, 409, "{label}");
        let (status, _) = ask_credit(&server, "nope").await;
        assert_eq!(status, 404, "{label}");

        // The operator sees both, with the eMSP's URL of the first.
        let (status, all) = server.api("GET", "/api/ocpi/cdrs", None).await.unwrap();
        assert_eq!(status, 200, "{label}: {all}");
        assert_eq!(all["total"], 2, "{label}: {all}");
        let first = all["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["id"] == cdr_id.as_str())
            .unwrap();
        assert_eq!(first["transaction_id"], tx, "{label}");
        assert_eq!(
            first["location_url"],
            format!("http://{}/emsp/2.2.1/cdrs/{cdr_id}", owner.addr),
            "{label}: {first}"
        );
        assert_eq!(owner.stored().len(), 2, "{label}");
        let (status, headers, page) =
            ocpi_get(&server, &owner.token_c, "/ocpi/2.2.1/cdrs?limit=1").await;
        assert_eq!(status, 200, "{label}: {page}");
        assert_eq!(ids(&page), vec![cdr_id.clone()], "{label}");
        assert_eq!(headers["x-total-count"], "2", "{label}");
        let link = headers["link"].to_str().unwrap();
        assert!(
            link.contains("/ocpi/2.2.1/cdrs?offset=1&limit=1") && link.ends_with("rel=\"next\""),
            "{label}: {link}"
        );
        server.stop().await;
    }
}

#[tokio::test]
async fn a_lost_answer_or_a_replayed_stop_never_gives_the_emsp_a_second_cdr() {
    for db in databases().await {
        let label = db.label;
        let server = TestServer::start(&cpo_settings(&db)).await.unwrap();
        let (owner, mut cs) = roaming_station(&server, "RF-C2", "CS-C2").await;
        owner.answer(1, CdrAnswer::StoreThenFail);

        let tx = charge(&mut cs, "RF-C2").await;
        cs.stop(tx, 6000, "Local").await.unwrap();
        owner.wait_delivered("the retried CDR").await;
        let posts = owner.posts();
        assert_eq!(posts.len(), 2, "{label}: {posts:#?}");
        assert!(!posts[0].1 && posts[1].1, "{label}");
        assert_eq!(posts[0].0, posts[1].0, "{label}: the same CDR, same id");
        assert_eq!(owner.stored().len(), 1, "{label}");
        // A replayed stop (the charger lost our answer) makes no second CDR.
        cs.stop(tx, 6000, "Local").await.unwrap();
        assert_cdr_total(&server, 1, label).await;
        server.stop().await;
    }
}

#[tokio::test]
async fn a_cdr_owed_across_a_restart_is_delivered_exactly_once() {
    for db in databases().await {
        let label = db.label;
        let s = cpo_settings(&db);
        let server = TestServer::start(&s).await.unwrap();
        let (owner, mut cs) = roaming_station(&server, "RF-C3", "CS-C3").await;
        owner.answer(usize::MAX, CdrAnswer::Down);

        let tx = charge(&mut cs, "RF-C3").await;
        cs.stop(tx, 6000, "Local").await.unwrap();
        owner
            .wait_posts("a refused attempt", |p| !p.is_empty())
            .await;
        drop(cs);
        server.stop().await;
        assert!(owner.stored().is_empty(), "{label}");

        owner.answer(0, CdrAnswer::Store);
        let server = TestServer::start(&s).await.unwrap();
        owner.wait_delivered("the CDR after the restart").await;
        let stored = owner.stored();
        assert_eq!(stored.len(), 1, "{label}: {stored:#?}");
        assert_eq!(stored[0]["session_id"], tx.to_string(), "{label}");
        let attempted: std::collections::HashSet<String> = owner
            .posts()
            .iter()
            .map(|(c, _)| c["id"].as_str().unwrap().to_owned())
            .collect();
        assert_eq!(attempted.len(), 1, "{label}: every attempt carries one id");
        assert_cdr_total(&server, 1, label).await;
        server.stop().await;
    }
}

#[tokio::test]
async fn roaming_sessions_that_cannot_be_billed_are_listed_with_the_reason() {
    for db in databases().await {
        let label = db.label;
        let server = TestServer::start(&cpo_settings(&db)).await.unwrap();
        let (owner, mut cs) = roaming_station(&server, "RF-C4", "CS-C4").await;

        // A station on no Location.
        let mut lost = booted(&server, "CS-NOWHERE").await;
        let lost_tx = charge(&mut lost, "RF-C4").await;
        lost.stop(lost_tx, 6000, "Local").await.unwrap();
        // A meter that went backwards.
        let back_tx = charge(&mut cs, "RF-C4").await;
        cs.stop(back_tx, 500, "Local").await.unwrap();
        // One still running, asked about with no patience at all.
        let started = cs.start(1, "RF-C4", 0, &now()).await.unwrap();
        let running_tx = started["transactionId"].as_i64().unwrap();

        let (status, listed) = server
            .api("GET", "/api/ocpi/cdrs/unbillable?stale_after_hours=0", None)
            .await
            .unwrap();
        assert_eq!(status, 200, "{label}: {listed}");
        let reason = |tx: i64| {
            listed
                .as_array()
                .unwrap()
                .iter()
                .find(|u| u["transaction_id"] == tx)
                .map(|u| u["reason"].as_str().unwrap().to_owned())
        };
        assert_eq!(
            reason(lost_tx).as_deref(),
            Some("no_location"),
            "{label}: {listed}"
        );
        assert_eq!(
            reason(back_tx).as_deref(),
            Some("meter_went_backwards"),
            "{label}: {listed}"
        );
        assert_eq!(
            reason(running_tx).as_deref(),
            Some("not_stopped"),
            "{label}: {listed}"
        );
        assert_cdr_total(&server, 0, label).await;
        assert!(owner.posts().is_empty(), "{label}");

        // The running one stops after all: it becomes a CDR and leaves the list.
        cs.stop(running_tx, 2000, "Local").await.unwrap();
        owner.wait_delivered("the late CDR").await;
        let (_, listed) = server
            .api("GET", "/api/ocpi/cdrs/unbillable", None)
            .await
            .unwrap();
        assert!(
            listed
                .as_array()
                .unwrap()
                .iter()
                .all(|u| u["transaction_id"] != running_tx),
            "{label}: {listed}"
        );
        server.stop().await;
    }
}

#[tokio::test]
async fn roaming_kpis_count_authorizations_sessions_cdrs_and_deliveries() {
    for db in databases().await {
        let label = db.label;
        let server = TestServer::start(&cpo_settings(&db)).await.unwrap();
        let (owner, mut cs) = roaming_station(&server, "RF-K1", "CS-K1").await;
        push_token(&server, &owner.token_c, "EMS", "RF-K2", true).await;
        // RF-K2 is then blocked by its eMSP.
        let (status, _, body) = ocpi(
            &server,
            "PATCH",
            "/ocpi/2.2.1/tokens/DE/EMS/RF-K2",
            Some(&token(&owner.token_c)),
            Some(json!({"valid": false, "last_updated": "2026-01-02T00:00:00Z"})),
        )
        .await;
        assert_eq!(status, 200, "{label}: {body}");

        let refused = cs
            .call("Authorize", json!({"idTag": "RF-K2"}))
            .await
            .unwrap();
        assert_eq!(
            refused["idTagInfo"]["status"], "Blocked",
            "{label}: {refused}"
        );
        let tx = charge(&mut cs, "RF-K1").await;
        cs.stop(tx, 6000, "Local").await.unwrap();
        owner.wait_delivered("the CDR").await;

        let (status, kpis) = server.api("GET", "/api/ocpi/kpis", None).await.unwrap();
        assert_eq!(status, 200, "{label}: {kpis}");
        assert_eq!(
            kpis["authorizations"],
            json!({"accepted": 1, "rejected": 1, "timed_out": 0}),
            "{label}: {kpis}"
        );
        assert_eq!(kpis["sessions_started"], 1, "{label}: {kpis}");
        assert_eq!(kpis["sessions_completed"], 1, "{label}: {kpis}");
        assert_eq!(kpis["cdrs_created"], 1, "{label}: {kpis}");
        assert_eq!(
            kpis["cdr_reconciliation_rate"].as_f64(),
            Some(1.0),
            "{label}: {kpis}"
        );
        let deliveries = kpis["deliveries"]
            .as_array()
            .unwrap()
            .iter()
            .find(|d| d["party"] == "DE*EMS")
            .unwrap_or_else(|| panic!("{label}: no deliveries for DE*EMS: {kpis}"));
        assert!(
            deliveries["ok"].as_u64().unwrap() >= 1,
            "{label}: {deliveries}"
        );
        assert_eq!(deliveries["parked"], 0, "{label}: {deliveries}");

        // The same figures for Prometheus, without the operator's bearer token.
        let scraped = server
            .http
            .get(server.api_url("/metrics"))
            .send()
            .await
            .unwrap();
        assert_eq!(scraped.status(), 200, "{label}");
        let text = scraped.text().await.unwrap();
        for line in [
            "cpms_roaming_authorizations_total{outcome=\"accepted\"} 1",
            "cpms_roaming_authorizations_total{outcome=\"rejected\"} 1",
            "cpms_roaming_sessions_completed_total 1",
            "cpms_roaming_cdrs_created_total 1",
            "cpms_roaming_cdr_reconciliation_ratio 1.0",
        ] {
            assert!(
                text.lines().any(|l| l == line),
                "{label}: no {line:?} in\n{text}"
            );
        }
        server.stop().await;
    }
}

#[tokio::test]
async fn a_2_0_1_roaming_session_gives_one_priced_cdr_across_a_restart_mid_session() {
    for db in databases().await {
        let label = db.label;
        let s = cpo_settings(&db);
        let server = TestServer::start(&s).await.unwrap();
        let owner = CdrEmsp::register(&server, "EMS").await;
        push_token(&server, &owner.token_c, "EMS", "RF-V3", true).await;
        let mut cs = booted201(&server, "CS-C201").await;
        map_priced_evse(&server, "CS-C201").await;

        let started = start201(&mut cs, "V3-TX1", &now(), 1000, "RF-V3").await;
        assert_eq!(started["idTokenInfo"]["status"], "Accepted", "{label}");
        meter201(&mut cs, "V3-TX1", 1, &now(), 3500).await;

        // The CPMS restarts in the middle of the session; the charger reconnects and ends it.
        drop(cs);
        server.stop().await;
        let server = TestServer::start(&s).await.unwrap();
        let mut cs = booted201(&server, "CS-C201").await;
        end201(&mut cs, "V3-TX1", 2, &now(), 6000).await;
        owner.wait_delivered("the CDR").await;
        // The charger did not see the answer and sends the Ended event again: no second CDR.
        end201(&mut cs, "V3-TX1", 2, &now(), 6000).await;

        let stored = owner.stored();
        assert_eq!(stored.len(), 1, "{label}: {stored:#?}");
        let cdr = &stored[0];
        assert_eq!(cdr["cdr_token"]["uid"], "RF-V3", "{label}");
        assert_eq!(cdr["auth_method"], "WHITELIST", "{label}");
        assert_eq!(dec(&cdr["total_energy"]), Decimal::new(5, 0), "{label}");
        // 5 kWh at 0.25 and 1.00 per session, 20 % VAT.
        assert_price(&cdr["total_cost"], 225, 270, &format!("{label}: {cdr}"));
        assert_eq!(cdr["cdr_location"]["evse_uid"], "E1", "{label}");
        assert_cdr_total(&server, 1, label).await;

        // Corrected by a credit CDR.
        let cdr_id = cdr["id"].as_str().unwrap().to_owned();
        let (status, credit) = ask_credit(&server, &cdr_id).await;
        assert_eq!(status, 201, "{label}: {credit}");
        owner.wait_credit().await;
        let credited = owner
            .stored()
            .into_iter()
            .find(|c| c["credit"] == true)
            .unwrap();
        assert_eq!(credited["credit_reference_id"], cdr_id.as_str(), "{label}");
        assert_eq!(
            dec(&credited["total_cost"]["excl_vat"]),
            Decimal::new(-225, 2),
            "{label}: {credited}"
        );
        server.stop().await;
    }
}

#[tokio::test]
async fn a_roaming_session_is_priced_by_the_tariff_it_started_under() {
    for db in databases().await {
        let label = db.label;
        let server = TestServer::start(&cpo_settings(&db)).await.unwrap();
        let (owner, mut cs) = roaming_station(&server, "RF-C9", "CS-C9").await;

        let tx = charge(&mut cs, "RF-C9").await;
        // Mid-session the operator doubles T1's energy price.
        let (status, body) = server
            .api(
                "PUT",
                "/api/tariffs/T1",
                Some(json!({
                    "currency": "EUR",
                    "elements": [{"price_components": [
                        {"type": "ENERGY", "price": 0.50, "vat": 20.0, "step_size": 1},
                        {"type": "FLAT", "price": 1.00, "vat": 20.0, "step_size": 1}
                    ]}]
                })),
            )
            .await
            .unwrap();
        assert_eq!(status, 200, "{label}: {body}");
        cs.stop(tx, 6000, "Local").await.unwrap();
        owner.wait_delivered("the CDR").await;
        let stored = owner.stored();
        assert_eq!(stored.len(), 1, "{label}: {stored:#?}");
        let cdr = &stored[0];
        // Still 5 kWh x 0.25 + 1.00 flat = 2.25; with 20 % VAT 2.70.
        assert_price(&cdr["total_cost"], 225, 270, &format!("{label}: {cdr}"));
        let energy = &cdr["tariffs"][0]["elements"][0]["price_components"][0];
        assert_eq!(cdr["tariffs"][0]["id"], "T1", "{label}: {cdr}");
        assert_eq!(energy["type"], "ENERGY", "{label}: {cdr}");
        assert_eq!(dec(&energy["price"]), Decimal::new(25, 2), "{label}: {cdr}");

        // A session started after the change pays the new price: 5 x 0.50 + 1.00 = 3.50.
        let tx = charge(&mut cs, "RF-C9").await;
        cs.stop(tx, 6000, "Local").await.unwrap();
        owner
            .wait_posts("the second CDR", |p| {
                p.iter().filter(|(_, ok)| *ok).count() == 2
            })
            .await;
        let stored = owner.stored();
        let session_id = tx.to_string();
        let second = stored
            .iter()
            .find(|c| c["session_id"] == session_id.as_str())
            .unwrap_or_else(|| panic!("{label}: {stored:#?}"));
        assert_price(
            &second["total_cost"],
            350,
            420,
            &format!("{label}: {second}"),
        );
        assert_cdr_total(&server, 2, label).await;
        server.stop().await;
    }
}
