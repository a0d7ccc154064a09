//! OCPI 2.2.1 Locations, Sender interface, as a registered eMSP meets it: the operator describes
//! sites and maps station EVSEs to them, a 1.6 and a 2.0.1 charger drive the status over real
//! websockets, and the eMSP reads the list (pagination), a Location, an EVSE and a Connector.
//! Every test runs on SQLite and (when configured) PostgreSQL.

mod common;
mod ocpi_support;

use std::time::Duration;

use common::*;
use ocpi_support::{ocpi, pending_token, token, Emsp};
use serde_json::{json, Value};

async fn test_server(db: &TestDb, page_limit: u64) -> TestServer {
    let mut s = settings(db);
    s.ocpi.allow_private_partner_urls = true;
    s.ocpi.country_code = "NL".into();
    s.ocpi.party_id = "CPO".into();
    s.ocpi.page_limit = page_limit;
    s.ocpi.offline_grace_seconds = 1;
    TestServer::start(&s).await.unwrap()
}

fn site(name: &str) -> Value {
    json!({
        "name": name,
        "address": "Stationsplein 1",
        "city": "Amsterdam",
        "postal_code": "1012AB",
        "country": "NLD",
        "coordinates": {"latitude": "52.378900", "longitude": "4.900160"},
        "time_zone": "Europe/Amsterdam",
        "operator": {"name": "Test CPO"},
        "facilities": ["TRAIN_STATION"],
        "parking_type": "ON_STREET",
        "opening_times": {"twentyfourseven": true},
    })
}

async fn api(server: &TestServer, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
    server.api(method, path, body).await.unwrap()
}

/// The EVSE's OCPI status as the eMSP reads it.
async fn evse_status(server: &TestServer, emsp: &Emsp, uid: &str) -> String {
    let (status, _, body) = emsp
        .get(server, &format!("/ocpi/2.2.1/locations/L1/{uid}"))
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["status_code"], 1000, "{body}");
    body["data"]["status"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn the_operator_api_validates_locations_and_evses() {
    for db in databases().await {
        let server = test_server(&db, 100).await;
        let label = db.label;
        let mut charger = server.connect("CS-V").await.unwrap();
        charger.boot().await.unwrap();

        let mut body = site("A");
        body["id"] = json!("L1");
        let (status, created) = api(&server, "POST", "/api/locations", Some(body)).await;
        assert_eq!(status, 201, "{label}: {created}");
        assert_eq!(created["id"], "L1");
        assert_eq!(created["publish"], true, "publish defaults to true");

        // Clear 400s naming the field.
        for (field, value, needle) in [
            ("country", json!("NL"), "country"),
            (
                "coordinates",
                json!({"latitude": "52.37", "longitude": "4.900160"}),
                "latitude",
            ),
            (
                "coordinates",
                json!({"latitude": "52.378900", "longitude": "4,900160"}),
                "longitude",
            ),
            ("facilities", json!(["SAUNA"]), "facilities"),
            ("parking_type", json!("ROOF"), "parking_type"),
            ("address", json!(""), "address"),
        ] {
            let mut body = site("B");
            body[field] = value;
            let (status, answer) = api(&server, "POST", "/api/locations", Some(body)).await;
            assert_eq!(status, 400, "{label}: {field}: {answer}");
            assert!(
                answer["message"].as_str().unwrap().contains(needle),
                "{label}: {answer}"
            );
        }

        // PATCH changes the named fields; PUT replaces; both validate.
        let (status, patched) = api(
            &server,
            "PATCH",
            "/api/locations/L1",
            Some(json!({"name": "Renamed", "publish": false})),
        )
        .await;
        assert_eq!(status, 200, "{label}: {patched}");
        assert_eq!(patched["name"], "Renamed");
        assert_eq!(patched["publish"], false);
        assert_eq!(patched["city"], "Amsterdam");
        let (status, _) = api(
            &server,
            "PATCH",
            "/api/locations/L1",
            Some(json!({"time_zone": "CET"})),
        )
        .await;
        assert_eq!(status, 400, "{label}");
        let (status, _) = api(&server, "PUT", "/api/locations/L1", Some(site("Put"))).await;
        assert_eq!(status, 200, "{label}");

        let evse = |extra: Value| {
            let mut b = json!({"station_id": "CS-V", "evse_id": 1, "evse_id_emi3": "NL*CPO*E1"});
            for (k, v) in extra.as_object().unwrap() {
                b[k] = v.clone();
            }
            b
        };
        for (body, needle) in [
            (evse(json!({"evse_id_emi3": "NL-CPO-1"})), "eMI3"),
            (evse(json!({"station_id": "nope"})), "unknown station"),
            (evse(json!({"evse_id": 0})), "evse_id"),
            (evse(json!({"capabilities": ["FLYING"]})), "capabilities"),
            (
                evse(
                    json!({"connectors": [{"id": "1", "standard": "XYZ", "format": "SOCKET",
                    "power_type": "DC", "max_voltage": 400, "max_amperage": 100}]}),
                ),
                "standard",
            ),
        ] {
            let (status, answer) =
                api(&server, "PUT", "/api/locations/L1/evses/E1", Some(body)).await;
            assert_eq!(status, 400, "{label}: {answer}");
            assert!(
                answer["message"].as_str().unwrap().contains(needle),
                "{label}: {needle}: {answer}"
            );
        }
        let (status, created) = api(
            &server,
            "PUT",
            "/api/locations/L1/evses/E1",
            Some(evse(json!({}))),
        )
        .await;
        assert_eq!(status, 201, "{label}: {created}");
        let (status, _) = api(
            &server,
            "PUT",
            "/api/locations/L1/evses/E1",
            Some(evse(json!({}))),
        )
        .await;
        assert_eq!(status, 200, "{label}: replacing");
        // One station EVSE is one OCPI EVSE.
        let (status, _) = api(
            &server,
            "PUT",
            "/api/locations/L1/evses/E2",
            Some(evse(json!({}))),
        )
        .await;
        assert_eq!(status, 409, "{label}");
        let (status, _) = api(
            &server,
            "PUT",
            "/api/locations/L9/evses/E1",
            Some(evse(json!({}))),
        )
        .await;
        assert_eq!(status, 404, "{label}");

        let (status, all) = api(&server, "GET", "/api/locations?limit=10", None).await;
        assert_eq!(status, 200, "{label}: {all}");
        assert_eq!(all["total"], 1);
        assert_eq!(all["items"][0]["id"], "L1");
        let (status, got) = api(&server, "GET", "/api/locations/L1", None).await;
        assert_eq!(status, 200);
        assert_eq!(got["evses"][0]["uid"], "E1", "{label}: {got}");
        let (status, _) = api(&server, "DELETE", "/api/locations/L1", None).await;
        assert_eq!(status, 204);
        let (status, _) = api(&server, "GET", "/api/locations/L1", None).await;
        assert_eq!(status, 404);
        server.stop().await;
    }
}

#[tokio::test]
async fn an_emsp_reads_locations_whose_status_follows_the_stations() {
    for db in databases().await {
        let label = db.label;
        let server = test_server(&db, 2).await;
        let emsp = Emsp::register(&server).await;

        let mut cs16 = server.connect("CS16").await.unwrap();
        cs16.boot().await.unwrap();
        cs16.status(1, "Available").await.unwrap();
        let mut cs201 = server.connect_v201("CS201").await.unwrap();
        cs201.boot201().await.unwrap();
        cs201.status201(1, 1, "Available").await.unwrap();

        let mut body = site("Central");
        body["id"] = json!("L1");
        assert_eq!(
            api(&server, "POST", "/api/locations", Some(body)).await.0,
            201
        );
        for id in ["L2", "L3", "L4"] {
            let mut body = site(id);
            body["id"] = json!(id);
            assert_eq!(
                api(&server, "POST", "/api/locations", Some(body)).await.0,
                201
            );
        }
        let (status, e) = api(
            &server,
            "PUT",
            "/api/locations/L1/evses/E16",
            Some(
                json!({"station_id": "CS16", "evse_id": 1, "evse_id_emi3": "NL*CPO*E16",
                        "capabilities": ["RFID_READER"], "physical_reference": "1"}),
            ),
        )
        .await;
        assert_eq!(status, 201, "{label}: {e}");
        let (status, e) = api(
            &server,
            "PUT",
            "/api/locations/L1/evses/E201",
            Some(
                json!({"station_id": "CS201", "evse_id": 1, "evse_id_emi3": "NL*CPO*E201",
                "connectors": [{"id": "1", "standard": "IEC_62196_T2_COMBO", "format": "CABLE",
                    "power_type": "DC", "max_voltage": 920, "max_amperage": 200,
                    "max_electric_power": 150000, "tariff_ids": ["T1"]}]}),
            ),
        )
        .await;
        assert_eq!(status, 201, "{label}: {e}");

        // The list: limit capped at the page limit, exact headers.
        let (status, headers, list) = emsp.get(&server, "/ocpi/2.2.1/locations?limit=50").await;
        assert_eq!(status, 200, "{label}: {list}");
        assert_eq!(headers["x-total-count"], "4");
        assert_eq!(headers["x-limit"], "2");
        assert_eq!(
            headers["link"],
            "<http://localhost:8080/ocpi/2.2.1/locations?offset=2&limit=2>; rel=\"next\""
        );
        let items = list["data"].as_array().unwrap();
        assert_eq!(items.len(), 2);
        assert_eq!(items[0]["id"], "L1");
        assert_eq!(items[1]["id"], "L2");
        // The next page keeps the date filters, and is the last.
        let (_, headers, list) = emsp
            .get(
                &server,
                "/ocpi/2.2.1/locations?offset=2&date_from=2020-01-01T00:00:00Z&date_to=2100-01-01T00:00:00Z",
            )
            .await;
        assert_eq!(list["data"].as_array().unwrap().len(), 2, "{label}: {list}");
        assert!(headers.get("link").is_none(), "{label}: last page");
        let (_, headers, _) = emsp
            .get(
                &server,
                "/ocpi/2.2.1/locations?date_from=2020-01-01T00:00:00Z&date_to=2100-01-01T00:00:00Z",
            )
            .await;
        assert_eq!(
            headers["link"],
            "<http://localhost:8080/ocpi/2.2.1/locations?offset=2&limit=2&date_from=2020-01-01T00%3A00%3A00Z&date_to=2100-01-01T00%3A00%3A00Z>; rel=\"next\""
        );
        // date_to is exclusive on last_updated: nothing was updated before 2020.
        let (_, headers, list) = emsp
            .get(
                &server,
                "/ocpi/2.2.1/locations?date_to=2020-01-01T00:00:00Z",
            )
            .await;
        assert_eq!(headers["x-total-count"], "0", "{label}: {list}");

        // One Location.
        let (status, _, loc) = emsp.get(&server, "/ocpi/2.2.1/locations/L1").await;
        assert_eq!(status, 200, "{label}: {loc}");
        let l = &loc["data"];
        assert_eq!(l["country_code"], "NL");
        assert_eq!(l["party_id"], "CPO");
        assert_eq!(l["country"], "NLD");
        assert_eq!(l["coordinates"]["latitude"], "52.378900");
        assert_eq!(l["time_zone"], "Europe/Amsterdam");
        assert_eq!(l["evses"][0]["uid"], "E16");
        assert_eq!(l["evses"][0]["evse_id"], "NL*CPO*E16");
        assert_eq!(l["evses"][0]["status"], "AVAILABLE");
        assert_eq!(l["evses"][1]["status"], "AVAILABLE");
        assert!(l["last_updated"].as_str().unwrap().ends_with('Z'));
        let evse_times: Vec<&str> = l["evses"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["last_updated"].as_str().unwrap())
            .collect();
        assert_eq!(
            l["last_updated"].as_str().unwrap(),
            *evse_times.iter().max().unwrap(),
            "{label}: the Location's last_updated is the latest of its EVSEs' after their status"
        );

        // One EVSE; one Connector: the station's, with the defaults; or the operator's.
        let (_, _, evse) = emsp.get(&server, "/ocpi/2.2.1/locations/L1/E16").await;
        assert_eq!(evse["data"]["capabilities"], json!(["RFID_READER"]));
        assert_eq!(evse["data"]["connectors"][0]["id"], "1");
        let (status, _, c) = emsp.get(&server, "/ocpi/2.2.1/locations/L1/E16/1").await;
        assert_eq!(status, 200, "{label}: {c}");
        assert_eq!(c["data"]["standard"], "IEC_62196_T2");
        assert_eq!(c["data"]["format"], "SOCKET");
        assert_eq!(c["data"]["power_type"], "AC_3_PHASE");
        assert_eq!(c["data"]["max_voltage"], 230);
        assert_eq!(c["data"]["max_amperage"], 32);
        let (_, _, c) = emsp.get(&server, "/ocpi/2.2.1/locations/L1/E201/1").await;
        assert_eq!(c["data"]["standard"], "IEC_62196_T2_COMBO");
        assert_eq!(c["data"]["max_electric_power"], 150000);
        assert_eq!(c["data"]["tariff_ids"], json!(["T1"]));

        // Status follows StatusNotification, 1.6 ...
        for (sent, shown) in [
            ("Preparing", "CHARGING"),
            ("Charging", "CHARGING"),
            ("SuspendedEV", "CHARGING"),
            ("SuspendedEVSE", "CHARGING"),
            ("Finishing", "CHARGING"),
            ("Reserved", "RESERVED"),
            ("Unavailable", "INOPERATIVE"),
            ("Faulted", "OUTOFORDER"),
            ("Available", "AVAILABLE"),
        ] {
            cs16.status(1, sent).await.unwrap();
            assert_eq!(
                evse_status(&server, &emsp, "E16").await,
                shown,
                "{label}: 1.6 {sent}"
            );
        }
        // ... and 2.0.1.
        for (sent, shown) in [
            ("Occupied", "CHARGING"),
            ("Reserved", "RESERVED"),
            ("Unavailable", "INOPERATIVE"),
            ("Faulted", "OUTOFORDER"),
            ("Available", "AVAILABLE"),
        ] {
            cs201.status201(1, 1, sent).await.unwrap();
            assert_eq!(
                evse_status(&server, &emsp, "E201").await,
                shown,
                "{label}: 2.0.1 {sent}"
            );
        }
        // A station-level status (1.6 connectorId 0) applies to all its EVSEs.
        cs16.status(0, "Faulted").await.unwrap();
        assert_eq!(
            evse_status(&server, &emsp, "E16").await,
            "OUTOFORDER",
            "{label}"
        );
        cs16.status(0, "Available").await.unwrap();
        assert_eq!(
            evse_status(&server, &emsp, "E16").await,
            "AVAILABLE",
            "{label}"
        );
        // The operator's flag.
        let (status, _) = api(
            &server,
            "PUT",
            "/api/locations/L1/evses/E16",
            Some(json!({"station_id": "CS16", "evse_id": 1, "inoperative": true})),
        )
        .await;
        assert_eq!(status, 200);
        assert_eq!(
            evse_status(&server, &emsp, "E16").await,
            "INOPERATIVE",
            "{label}"
        );

        // Offline beyond the grace (1 s here): UNKNOWN. Wait on the observable state.
        cs201.close().await.unwrap();
        server.wait_connected("CS201", false).await.unwrap();
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            if evse_status(&server, &emsp, "E201").await == "UNKNOWN" {
                break;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "{label}: never UNKNOWN"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        // Back online: the status it reports again.
        let mut cs201 = server.connect_v201("CS201").await.unwrap();
        cs201.boot201().await.unwrap();
        assert_eq!(
            evse_status(&server, &emsp, "E201").await,
            "AVAILABLE",
            "{label}"
        );

        // Unknown ids: 2003.
        for path in [
            "/ocpi/2.2.1/locations/NOPE",
            "/ocpi/2.2.1/locations/L1/NOPE",
            "/ocpi/2.2.1/locations/L1/E16/9",
        ] {
            let (status, _, body) = emsp.get(&server, path).await;
            assert_eq!(status, 200, "{label}: {path}");
            assert_eq!(body["status_code"], 2003, "{label}: {path}: {body}");
        }

        // Token A and no token are refused.
        let token_a = pending_token(&server, "Another eMSP").await;
        let (status, _, _) = ocpi(
            &server,
            "GET",
            "/ocpi/2.2.1/locations",
            Some(&token(&token_a)),
            None,
        )
        .await;
        assert_eq!(status, 401, "{label}");
        let (status, _, _) = ocpi(&server, "GET", "/ocpi/2.2.1/locations/L1", None, None).await;
        assert_eq!(status, 401, "{label}");
        let (status, _, _) = ocpi(
            &server,
            "GET",
            "/ocpi/2.2.1/locations",
            Some(&token("not-a-token-we-issued")),
            None,
        )
        .await;
        assert_eq!(status, 401, "{label}: a wrong token");

        // Locations appear in the version details.
        let (_, _, details) = emsp.get(&server, "/ocpi/2.2.1").await;
        assert!(details["data"]["endpoints"]
            .as_array()
            .unwrap()
            .contains(&json!({"identifier": "locations", "role": "SENDER",
                              "url": "http://localhost:8080/ocpi/2.2.1/locations"})));

        // A partner that unregistered (DELETE credentials) can no longer pull.
        let (status, _, body) = ocpi(
            &server,
            "DELETE",
            "/ocpi/2.2.1/credentials",
            Some(&token(&emsp.token_c)),
            None,
        )
        .await;
        assert_eq!(
            (status, &body["status_code"]),
            (200, &json!(1000)),
            "{label}: {body}"
        );
        let (status, _, _) = emsp.get(&server, "/ocpi/2.2.1/locations").await;
        assert_eq!(status, 401, "{label}: unregistered partner");
        server.stop().await;
    }
}
