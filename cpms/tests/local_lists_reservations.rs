//! Local authorization lists, reservations, firmware updates and diagnostics uploads through the
//! operator API, with the test charger playing a 1.6 and a 2.0.1 station: the exact payloads the
//! station receives, what the CPMS stores from its answers, and the status notifications that
//! follow. On SQLite and (when configured) PostgreSQL.

mod common;

use common::*;
use serde_json::{json, Value};

/// The OCPP version a test station speaks.
#[derive(Clone, Copy, PartialEq)]
enum Version {
    V16,
    V201,
}

const VERSIONS: [Version; 2] = [Version::V16, Version::V201];

impl Version {
    fn label(self) -> &'static str {
        match self {
            Version::V16 => "1.6",
            Version::V201 => "2.0.1",
        }
    }
}

/// A booted charger speaking `version`.
async fn booted(server: &TestServer, station_id: &str, version: Version) -> Charger {
    match version {
        Version::V16 => {
            let mut cp = server.connect(station_id).await.unwrap();
            assert_eq!(cp.boot().await.unwrap()["status"], "Accepted");
            cp
        }
        Version::V201 => {
            let mut cp = server.connect_v201(station_id).await.unwrap();
            assert_eq!(cp.boot201().await.unwrap()["status"], "Accepted");
            cp
        }
    }
}

/// Sends an API request from a task of its own, so the test can play the station meanwhile.
fn spawn_api(
    server: &TestServer,
    method: &'static str,
    path: String,
    body: Option<Value>,
) -> tokio::task::JoinHandle<anyhow::Result<(u16, Value)>> {
    let http = server.http.clone();
    let url = server.api_url(&path);
    let token = server.token.clone();
    tokio::spawn(async move {
        let method = reqwest::Method::from_bytes(method.as_bytes())?;
        let mut req = http.request(method, url).bearer_auth(token);
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req.send().await?;
        let status = resp.status().as_u16();
        let text = resp.text().await?;
        Ok((status, serde_json::from_str(&text)?))
    })
}

/// Posts a local list update, checks the SendLocalList the station receives, answers it with
/// `status` and returns the API's answer.
async fn local_list_round_trip(
    server: &TestServer,
    cp: &mut Charger,
    station: &str,
    body: Value,
    expected: Value,
    status: &str,
) -> (u16, Value) {
    let task = spawn_api(
        server,
        "POST",
        format!("/api/stations/{station}/local-list"),
        Some(body),
    );
    let (id, action, payload) = cp.expect_call().await.unwrap();
    assert_eq!(action, "SendLocalList");
    assert_eq!(payload, expected);
    cp.reply(&id, json!({"status": status})).await.unwrap();
    answer(task).await.unwrap()
}

/// Sends an operator command, returns the call the station received after answering `reply`,
/// and the API's answer.
async fn command_round_trip(
    server: &TestServer,
    cp: &mut Charger,
    station: &str,
    command: &str,
    body: Value,
    reply: Value,
) -> (String, Value, (u16, Value)) {
    let task = server.command(station, command, Some(body));
    let (id, action, payload) = cp.expect_call().await.unwrap();
    cp.reply(&id, reply).await.unwrap();
    (action, payload, answer(task).await.unwrap())
}

async fn stored_list(server: &TestServer, station: &str) -> Value {
    let (status, list) = server
        .api("GET", &format!("/api/stations/{station}/local-list"), None)
        .await
        .unwrap();
    assert_eq!(status, 200, "{list}");
    list
}

/// A local list entry as `version` puts it on the wire.
fn wire_entry(version: Version, id: &str, info: Option<Value>) -> Value {
    let mut entry = match version {
        Version::V16 => json!({"idTag": id}),
        Version::V201 => json!({"idToken": {"idToken": id, "type": "ISO14443"}}),
    };
    if let Some(info) = info {
        let key = match version {
            Version::V16 => "idTagInfo",
            Version::V201 => "idTokenInfo",
        };
        entry[key] = info;
    }
    entry
}

fn wire_list(version: Version, list_version: i32, update: &str, entries: Vec<Value>) -> Value {
    let mut payload = match version {
        Version::V16 => json!({"listVersion": list_version, "updateType": update}),
        Version::V201 => json!({"versionNumber": list_version, "updateType": update}),
    };
    if !entries.is_empty() {
        payload["localAuthorizationList"] = Value::Array(entries);
    }
    payload
}

#[tokio::test]
async fn local_lists_go_full_then_differential_and_track_the_version() {
    for db in databases().await {
        let server = TestServer::start(&settings(&db)).await.unwrap();
        let (status, _) = server
            .api(
                "POST",
                "/api/id-tokens",
                Some(json!({"id_token": "TAG-A", "status": "Accepted"})),
            )
            .await
            .unwrap();
        assert_eq!(status, 201);
        let (status, _) = server
            .api(
                "POST",
                "/api/id-tokens",
                Some(json!({"id_token": "TAG-B", "status": "Blocked", "group_id_token": "FLEET"})),
            )
            .await
            .unwrap();
        assert_eq!(status, 201);

        for version in VERSIONS {
            let label = format!("{} {}", db.label, version.label());
            let station = format!("CP-LL-{}", version.label().replace('.', ""));
            let mut cp = booted(&server, &station, version).await;
            let group = match version {
                Version::V16 => json!({"status": "Blocked", "parentIdTag": "FLEET"}),
                Version::V201 => json!({"status": "Blocked",
                    "groupIdToken": {"idToken": "FLEET", "type": "Central"}}),
            };

            // Nothing sent yet: version 0, and a differential has nothing to apply to.
            let list = stored_list(&server, &station).await;
            assert_eq!(list["list_version"], 0, "{label}");
            let (status, body) = server
                .api(
                    "POST",
                    &format!("/api/stations/{station}/local-list"),
                    Some(json!({"update_type": "Differential",
                                "entries": [{"id_token": "TAG-C", "status": "Accepted"}]})),
                )
                .await
                .unwrap();
            assert_eq!(status, 409, "{label}: {body}");

            // Full without entries: the operator's id tokens.
            let (status, body) = local_list_round_trip(
                &server,
                &mut cp,
                &station,
                json!({"update_type": "Full"}),
                wire_list(
                    version,
                    1,
                    "Full",
                    vec![
                        wire_entry(version, "TAG-A", Some(json!({"status": "Accepted"}))),
                        wire_entry(version, "TAG-B", Some(group.clone())),
                    ],
                ),
                "Accepted",
            )
            .await;
            assert_eq!(status, 200, "{label}: {body}");
            assert_eq!(body["status"], "Accepted");
            assert_eq!(body["local_list"]["list_version"], 1, "{label}");

            // Differential: TAG-C added, TAG-A removed, TAG-B unchanged (so not sent).
            let (status, body) = local_list_round_trip(
                &server,
                &mut cp,
                &station,
                json!({"update_type": "Differential", "entries": [
                    {"id_token": "TAG-C", "status": "Accepted", "expiry_date": "2030-01-01T00:00:00Z"},
                    {"id_token": "TAG-A"},
                    {"id_token": "TAG-B", "status": "Blocked", "group_id_token": "FLEET"},
                ]}),
                wire_list(
                    version,
                    2,
                    "Differential",
                    vec![
                        wire_entry(
                            version,
                            "TAG-C",
                            Some(match version {
                                Version::V16 => json!({"status": "Accepted",
                                    "expiryDate": "2030-01-01T00:00:00Z"}),
                                Version::V201 => json!({"status": "Accepted",
                                    "cacheExpiryDateTime": "2030-01-01T00:00:00.000Z"}),
                            }),
                        ),
                        wire_entry(version, "TAG-A", None),
                    ],
                ),
                "Accepted",
            )
            .await;
            assert_eq!(status, 200, "{label}: {body}");
            let list = stored_list(&server, &station).await;
            assert_eq!(list["list_version"], 2, "{label}");
            let tokens: Vec<&str> = list["entries"]
                .as_array()
                .unwrap()
                .iter()
                .map(|e| e["id_token"].as_str().unwrap())
                .collect();
            assert_eq!(tokens, ["TAG-B", "TAG-C"], "{label}");

            // Failed leaves the stored list as it was.
            let before = stored_list(&server, &station).await;
            let (status, body) = local_list_round_trip(
                &server,
                &mut cp,
                &station,
                json!({"update_type": "Differential", "entries": [{"id_token": "TAG-D", "status": "Accepted"}]}),
                wire_list(
                    version,
                    3,
                    "Differential",
                    vec![wire_entry(version, "TAG-D", Some(json!({"status": "Accepted"})))],
                ),
                "Failed",
            )
            .await;
            assert_eq!(
                (status, &body["status"]),
                (200, &json!("Failed")),
                "{label}"
            );
            assert_eq!(stored_list(&server, &station).await, before, "{label}");

            // VersionMismatch: the list is kept but out of sync; a differential is refused.
            let (_, body) = local_list_round_trip(
                &server,
                &mut cp,
                &station,
                json!({"update_type": "Differential", "entries": [{"id_token": "TAG-D", "status": "Accepted"}]}),
                wire_list(
                    version,
                    3,
                    "Differential",
                    vec![wire_entry(version, "TAG-D", Some(json!({"status": "Accepted"})))],
                ),
                "VersionMismatch",
            )
            .await;
            assert_eq!(body["status"], "VersionMismatch");
            let list = stored_list(&server, &station).await;
            assert_eq!(list["list_version"], 2, "{label}");
            assert_eq!(list["in_sync"], false, "{label}");
            assert_eq!(list["entries"], before["entries"], "{label}");
            let (status, body) = server
                .api(
                    "POST",
                    &format!("/api/stations/{station}/local-list"),
                    Some(json!({"update_type": "Differential",
                                "entries": [{"id_token": "TAG-D", "status": "Accepted"}]})),
                )
                .await
                .unwrap();
            assert_eq!(status, 409, "{label}: {body}");
            assert!(body["message"].as_str().unwrap().contains("Full"), "{body}");

            // A Full update with explicit entries brings it back in sync.
            let (status, body) = local_list_round_trip(
                &server,
                &mut cp,
                &station,
                json!({"update_type": "Full", "entries": [{"id_token": "TAG-D", "status": "Accepted"}]}),
                wire_list(
                    version,
                    3,
                    "Full",
                    vec![wire_entry(version, "TAG-D", Some(json!({"status": "Accepted"})))],
                ),
                "Accepted",
            )
            .await;
            assert_eq!(status, 200, "{label}: {body}");
            assert_eq!(body["local_list"]["in_sync"], true);
            assert_eq!(body["local_list"]["list_version"], 3);

            // The station's own answer to get-local-list-version.
            let reply = match version {
                Version::V16 => json!({"listVersion": 3}),
                Version::V201 => json!({"versionNumber": 3}),
            };
            let (action, payload, answer) = command_round_trip(
                &server,
                &mut cp,
                &station,
                "get-local-list-version",
                json!({}),
                reply,
            )
            .await;
            assert_eq!(
                (action.as_str(), payload),
                ("GetLocalListVersion", json!({}))
            );
            assert_eq!(answer, (200, json!({"list_version": 3})), "{label}");

            // Longer than the version's idToken: refused before anything is sent.
            let too_long = "X".repeat(match version {
                Version::V16 => 21,
                Version::V201 => 37,
            });
            let (status, body) = server
                .api(
                    "POST",
                    &format!("/api/stations/{station}/local-list"),
                    Some(json!({"update_type": "Full",
                                "entries": [{"id_token": too_long, "status": "Accepted"}]})),
                )
                .await
                .unwrap();
            assert_eq!(status, 400, "{label}: {body}");
        }
        server.stop().await;
    }
}

async fn reservations(server: &TestServer, station: &str) -> Vec<Value> {
    let (status, list) = server
        .api(
            "GET",
            &format!("/api/stations/{station}/reservations"),
            None,
        )
        .await
        .unwrap();
    assert_eq!(status, 200, "{list}");
    list.as_array().unwrap().clone()
}

fn reservation(list: &[Value], id: i64) -> Value {
    list.iter()
        .find(|r| r["reservation_id"] == id)
        .cloned()
        .unwrap_or_else(|| panic!("no reservation {id} in {list:?}"))
}

#[tokio::test]
async fn reservations_are_made_cancelled_and_used_on_both_versions() {
    for db in databases().await {
        let server = TestServer::start(&settings(&db)).await.unwrap();
        accepted_token(&server, "RES-TAG").await.unwrap();
        for version in VERSIONS {
            let label = format!("{} {}", db.label, version.label());
            let station = format!("CP-RES-{}", version.label().replace('.', ""));
            let mut cp = booted(&server, &station, version).await;

            // The CPMS picks the id when the operator gives none.
            let (action, payload, answer) = command_round_trip(
                &server,
                &mut cp,
                &station,
                "reserve-now",
                json!({"evse_id": 1, "id_token": "RES-TAG", "expiry_date": "2030-01-01T12:00:00Z"}),
                json!({"status": "Accepted"}),
            )
            .await;
            assert_eq!(answer, (200, json!({"status": "Accepted"})), "{label}");
            assert_eq!(action, "ReserveNow");
            let generated = match version {
                Version::V16 => {
                    let id = payload["reservationId"].as_i64().unwrap();
                    assert_eq!(
                        payload,
                        json!({"connectorId": 1, "expiryDate": "2030-01-01T12:00:00Z",
                               "idTag": "RES-TAG", "reservationId": id})
                    );
                    id
                }
                Version::V201 => {
                    let id = payload["id"].as_i64().unwrap();
                    assert_eq!(
                        payload,
                        json!({"id": id, "expiryDateTime": "2030-01-01T12:00:00.000Z", "evseId": 1,
                               "idToken": {"idToken": "RES-TAG", "type": "ISO14443"}})
                    );
                    id
                }
            };
            assert!(generated > 0);
            let r = reservation(&reservations(&server, &station).await, generated);
            assert_eq!(r["status"], "Accepted", "{label}");
            assert_eq!(r["evse_id"], 1);
            assert_eq!(r["id_token"], "RES-TAG");

            // An explicit id; the station's answer is stored as it came.
            let (_, payload, answer) = command_round_trip(
                &server,
                &mut cp,
                &station,
                "reserve-now",
                json!({"reservation_id": 77, "id_token": "RES-TAG",
                       "expiry_date": "2030-01-01T12:00:00Z", "group_id_token": "FLEET"}),
                json!({"status": "Occupied"}),
            )
            .await;
            assert_eq!(answer.1["status"], "Occupied", "{label}");
            match version {
                Version::V16 => {
                    assert_eq!(payload["connectorId"], 0);
                    assert_eq!(payload["parentIdTag"], "FLEET");
                }
                Version::V201 => {
                    assert!(payload.get("evseId").is_none(), "{payload}");
                    assert_eq!(payload["groupIdToken"]["idToken"], "FLEET");
                }
            }
            assert_eq!(
                reservation(&reservations(&server, &station).await, 77)["status"],
                "Occupied"
            );
            // The same id twice is refused before anything is sent.
            let (status, body) = answer_of(
                &server,
                &station,
                "reserve-now",
                json!({"reservation_id": 77, "id_token": "RES-TAG", "expiry_date": "2030-01-01T12:00:00Z"}),
            )
            .await;
            assert_eq!(status, 409, "{label}: {body}");

            let (action, payload, answer) = command_round_trip(
                &server,
                &mut cp,
                &station,
                "cancel-reservation",
                json!({"reservation_id": 77}),
                json!({"status": "Accepted"}),
            )
            .await;
            assert_eq!(
                (action.as_str(), payload),
                ("CancelReservation", json!({"reservationId": 77}))
            );
            assert_eq!(answer.0, 200);
            assert_eq!(
                reservation(&reservations(&server, &station).await, 77)["status"],
                "Cancelled",
                "{label}"
            );

            // The driver arrives: the transaction carries the reservation id.
            let tx = match version {
                Version::V16 => {
                    let started = cp
                        .call(
                            "StartTransaction",
                            json!({"connectorId": 1, "idTag": "RES-TAG", "meterStart": 0,
                                   "timestamp": now(), "reservationId": generated}),
                        )
                        .await
                        .unwrap();
                    Some(started["transactionId"].as_i64().unwrap())
                }
                Version::V201 => {
                    cp.tx_event(
                        "Started",
                        "TX-RES",
                        0,
                        &now(),
                        "Authorized",
                        Some(0),
                        json!({"evse": {"id": 1, "connectorId": 1}, "reservationId": generated,
                               "idToken": {"idToken": "RES-TAG", "type": "ISO14443"}}),
                    )
                    .await
                    .unwrap();
                    None
                }
            };
            let r = reservation(&reservations(&server, &station).await, generated);
            assert_eq!(r["status"], "Used", "{label}");
            assert!(r["transaction_id"].is_i64(), "{label}: {r}");
            if let Some(tx) = tx {
                assert_eq!(r["transaction_id"], tx);
            }

            // 2.0.1 H03: the station reports a reservation that lapsed.
            if version == Version::V201 {
                let (_, payload, _) = command_round_trip(
                    &server,
                    &mut cp,
                    &station,
                    "reserve-now",
                    json!({"reservation_id": 78, "id_token": "RES-TAG", "expiry_date": "2030-01-01T12:00:00Z"}),
                    json!({"status": "Accepted"}),
                )
                .await;
                assert_eq!(payload["id"], 78);
                cp.call(
                    "ReservationStatusUpdate",
                    json!({"reservationId": 78, "reservationUpdateStatus": "Expired"}),
                )
                .await
                .unwrap();
                assert_eq!(
                    reservation(&reservations(&server, &station).await, 78)["status"],
                    "Expired"
                );
            }
        }
        server.stop().await;
    }
}

/// The API's answer to a command the station never sees.
async fn answer_of(server: &TestServer, station: &str, command: &str, body: Value) -> (u16, Value) {
    answer(server.command(station, command, Some(body)))
        .await
        .unwrap()
}

async fn station(server: &TestServer, station: &str) -> Value {
    let (status, body) = server
        .api("GET", &format!("/api/stations/{station}"), None)
        .await
        .unwrap();
    assert_eq!(status, 200, "{body}");
    body
}

#[tokio::test]
async fn firmware_updates_and_diagnostics_are_sent_and_their_progress_tracked() {
    for db in databases().await {
        let server = TestServer::start(&settings(&db)).await.unwrap();
        for version in VERSIONS {
            let label = format!("{} {}", db.label, version.label());
            let id = format!("CP-FW-{}", version.label().replace('.', ""));
            let mut cp = booted(&server, &id, version).await;

            let (action, payload, answer) = command_round_trip(
                &server,
                &mut cp,
                &id,
                "update-firmware",
                json!({"location": "https://fw.example.com/v2.bin",
                       "retrieve_date": "2030-01-01T03:00:00Z", "retries": 3, "retry_interval": 60}),
                match version {
                    Version::V16 => json!({}),
                    Version::V201 => json!({"status": "Accepted"}),
                },
            )
            .await;
            assert_eq!(answer, (200, json!({"status": "Accepted"})), "{label}");
            assert_eq!(action, "UpdateFirmware");
            let request_id = match version {
                Version::V16 => {
                    assert_eq!(
                        payload,
                        json!({"location": "https://fw.example.com/v2.bin",
                               "retrieveDate": "2030-01-01T03:00:00Z", "retries": 3, "retryInterval": 60})
                    );
                    None
                }
                Version::V201 => {
                    let request_id = payload["requestId"].as_i64().unwrap();
                    assert_eq!(
                        payload,
                        json!({"requestId": request_id, "retries": 3, "retryInterval": 60,
                               "firmware": {"location": "https://fw.example.com/v2.bin",
                                            "retrieveDateTime": "2030-01-01T03:00:00.000Z"}})
                    );
                    Some(request_id)
                }
            };
            let s = station(&server, &id).await;
            assert!(s["firmware_request_id"].is_i64(), "{label}: {s}");
            if let Some(request_id) = request_id {
                assert_eq!(s["firmware_request_id"], request_id);
            }

            match version {
                Version::V16 => cp
                    .call(
                        "FirmwareStatusNotification",
                        json!({"status": "Downloading"}),
                    )
                    .await
                    .unwrap(),
                Version::V201 => cp
                    .call(
                        "FirmwareStatusNotification",
                        json!({"status": "Downloading", "requestId": request_id}),
                    )
                    .await
                    .unwrap(),
            };
            let s = station(&server, &id).await;
            assert_eq!(s["firmware_status"], "Downloading", "{label}");

            let (action, payload, answer) = command_round_trip(
                &server,
                &mut cp,
                &id,
                "get-diagnostics",
                json!({"location": "ftp://logs.example.com/", "start_time": "2029-12-31T00:00:00Z"}),
                match version {
                    Version::V16 => json!({"fileName": "diag.zip"}),
                    Version::V201 => json!({"status": "Accepted", "filename": "diag.zip"}),
                },
            )
            .await;
            let log_request_id = match version {
                Version::V16 => {
                    assert_eq!(action, "GetDiagnostics");
                    assert_eq!(
                        payload,
                        json!({"location": "ftp://logs.example.com/", "startTime": "2029-12-31T00:00:00Z"})
                    );
                    assert_eq!(answer, (200, json!({"file_name": "diag.zip"})), "{label}");
                    None
                }
                Version::V201 => {
                    assert_eq!(action, "GetLog");
                    let request_id = payload["requestId"].as_i64().unwrap();
                    assert_eq!(
                        payload,
                        json!({"logType": "DiagnosticsLog", "requestId": request_id,
                               "log": {"remoteLocation": "ftp://logs.example.com/",
                                       "oldestTimestamp": "2029-12-31T00:00:00.000Z"}})
                    );
                    assert_eq!(
                        answer,
                        (200, json!({"status": "Accepted", "file_name": "diag.zip"})),
                        "{label}"
                    );
                    Some(request_id)
                }
            };
            match version {
                Version::V16 => cp
                    .call(
                        "DiagnosticsStatusNotification",
                        json!({"status": "Uploading"}),
                    )
                    .await
                    .unwrap(),
                Version::V201 => cp
                    .call(
                        "LogStatusNotification",
                        json!({"status": "Uploading", "requestId": log_request_id}),
                    )
                    .await
                    .unwrap(),
            };
            let s = station(&server, &id).await;
            assert_eq!(s["diagnostics_status"], "Uploading", "{label}");
            assert!(s["diagnostics_request_id"].is_i64(), "{label}: {s}");
            if let Some(request_id) = log_request_id {
                assert_eq!(s["diagnostics_request_id"], request_id);
            }
        }
        server.stop().await;
    }
}
