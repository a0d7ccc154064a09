//! Roaming tokens in the stations' local authorization lists: an eMSP pushes tokens over OCPI
//! 2.2.1 and real 1.6 and 2.0.1 chargers receive SendLocalList with those whitelisted ALWAYS or
//! ALLOWED_OFFLINE (and valid), Full first and Differential after; a token turning invalid or
//! NEVER leaves the lists, ALLOWED tokens never enter them, and a charger that was offline gets
//! its list when it reconnects. SQLite and (when configured) PostgreSQL.

mod common;
mod ocpi_support;

use std::collections::VecDeque;

use anyhow::{bail, Result};
use common::*;
use ocpi_support::TokensEmsp;
use serde_json::{json, Value};

async fn test_server(db: &TestDb) -> TestServer {
    let mut s = settings(db);
    s.ocpi.allow_private_partner_urls = true;
    s.ocpi.country_code = "NL".into();
    s.ocpi.party_id = "CPO".into();
    s.ocpi.roaming_local_lists = true;
    TestServer::start(&s).await.unwrap()
}

fn path(uid: &str) -> String {
    format!("/ocpi/2.2.1/tokens/DE/EMS/{uid}")
}

/// The eMSP PUTs RFID token `uid` with `whitelist`.
async fn put(server: &TestServer, emsp: &TokensEmsp, uid: &str, whitelist: &str) {
    let token = json!({
        "country_code": "DE", "party_id": "EMS", "uid": uid, "type": "RFID",
        "contract_id": "DE-EMS-C12345678-9", "issuer": "Test eMSP", "valid": true,
        "whitelist": whitelist, "last_updated": "2026-01-01T00:00:00Z",
    });
    let (status, body) = emsp.send(server, "PUT", &path(uid), Some(token)).await;
    assert_eq!(
        (status, body["status_code"].clone()),
        (200, json!(1000)),
        "{body}"
    );
}

/// The eMSP PATCHes token `uid` with `fields`.
async fn patch(server: &TestServer, emsp: &TokensEmsp, uid: &str, mut fields: Value) {
    fields["last_updated"] = json!("2026-01-02T00:00:00Z");
    let (status, body) = emsp.send(server, "PATCH", &path(uid), Some(fields)).await;
    assert_eq!(
        (status, body["status_code"].clone()),
        (200, json!(1000)),
        "{body}"
    );
}

/// A charger that may be sent a CALL while it waits for the answer to its own: CSMS CALLs that
/// arrive first are kept for [`Station::next_call`].
struct Station {
    cs: Charger,
    pending: VecDeque<Value>,
    next_id: u64,
}

impl Station {
    fn new(cs: Charger) -> Self {
        Station {
            cs,
            pending: VecDeque::new(),
            next_id: 1,
        }
    }

    /// A 1.6 charger `id`, connected and booted (accepted: unknown stations are).
    async fn booted16(server: &TestServer, id: &str) -> Self {
        let mut station = Station::new(server.connect(id).await.unwrap());
        station
            .call(
                "BootNotification",
                json!({"chargePointVendor": "V", "chargePointModel": "M"}),
            )
            .await
            .unwrap();
        station
    }

    /// Sends a CALL and returns its CALLRESULT payload.
    async fn call(&mut self, action: &str, payload: Value) -> Result<Value> {
        let id = format!("s{}", self.next_id);
        self.next_id += 1;
        self.cs
            .send_text(&json!([2, id, action, payload]).to_string())
            .await?;
        loop {
            let frame = self.cs.recv().await?;
            if frame[0] == 2 {
                self.pending.push_back(frame);
                continue;
            }
            if frame[1] != json!(id) || frame[0] != 3 {
                bail!("{action} answered with {frame}");
            }
            return Ok(frame[2].clone());
        }
    }

    /// The next CSMS CALL: (unique id, action, payload).
    async fn next_call(&mut self) -> Result<(String, String, Value)> {
        let frame = match self.pending.pop_front() {
            Some(frame) => frame,
            None => self.cs.recv().await?,
        };
        if frame[0] != 2 {
            bail!("expected a CALL, got {frame}");
        }
        Ok((
            frame[1].as_str().unwrap_or_default().to_owned(),
            frame[2].as_str().unwrap_or_default().to_owned(),
            frame[3].clone(),
        ))
    }

    /// Waits for SendLocalList, answers `Accepted` and returns its payload.
    async fn local_list(&mut self) -> Result<Value> {
        let (id, action, payload) = self.next_call().await?;
        if action != "SendLocalList" {
            bail!("expected SendLocalList, got {action} {payload}");
        }
        self.cs.reply(&id, json!({"status": "Accepted"})).await?;
        Ok(payload)
    }
}

/// The (id, status) pairs of a 1.6 SendLocalList; status "" for a removal.
fn entries16(payload: &Value) -> Vec<(String, String)> {
    payload["localAuthorizationList"]
        .as_array()
        .map(|list| {
            list.iter()
                .map(|e| {
                    (
                        e["idTag"].as_str().unwrap_or_default().to_owned(),
                        e["idTagInfo"]["status"]
                            .as_str()
                            .unwrap_or_default()
                            .to_owned(),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

/// The (id, status) pairs of a 2.0.1 SendLocalList; status "" for a removal.
fn entries201(payload: &Value) -> Vec<(String, String)> {
    payload["localAuthorizationList"]
        .as_array()
        .map(|list| {
            list.iter()
                .map(|e| {
                    (
                        e["idToken"]["idToken"]
                            .as_str()
                            .unwrap_or_default()
                            .to_owned(),
                        e["idTokenInfo"]["status"]
                            .as_str()
                            .unwrap_or_default()
                            .to_owned(),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

/// The local list the CPMS records for `station` once it reaches `version`: the station's
/// answer is stored after it reaches the CPMS, with no event a test could wait on, so this polls
/// (as `wait_connected` does), bounded by [`WAIT`].
async fn recorded_list(server: &TestServer, station: &str, version: i64) -> Value {
    let deadline = tokio::time::Instant::now() + WAIT;
    let mut poll = tokio::time::interval(std::time::Duration::from_millis(20));
    loop {
        poll.tick().await;
        let (status, list) = server
            .api("GET", &format!("/api/stations/{station}/local-list"), None)
            .await
            .unwrap();
        assert_eq!(status, 200, "{list}");
        if list["list_version"] == version {
            return list;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{station} still not at version {version}: {list}"
        );
    }
}

fn pairs(items: &[(&str, &str)]) -> Vec<(String, String)> {
    items
        .iter()
        .map(|(a, b)| ((*a).to_owned(), (*b).to_owned()))
        .collect()
}

#[tokio::test]
async fn roaming_tokens_for_offline_use_enter_and_leave_1_6_and_2_0_1_local_lists() {
    for db in databases().await {
        let label = db.label;
        let server = test_server(&db).await;
        let emsp = TokensEmsp::register(&server).await;
        let mut v16 = Station::booted16(&server, "CS-RL16").await;
        let mut v201 = Station::new(server.connect_v201("CS-RL201").await.unwrap());
        v201.call(
            "BootNotification",
            json!({"reason": "PowerUp", "chargingStation": {"vendorName": "V", "model": "M"}}),
        )
        .await
        .unwrap();

        // ALLOWED needs the eMSP online: never in a local list. The ALWAYS token that follows
        // is the first list each station gets, a Full one with that token alone.
        put(&server, &emsp, "RF-ALLOWED", "ALLOWED").await;
        put(&server, &emsp, "RF-ALWAYS", "ALWAYS").await;
        let full = v16.local_list().await.unwrap();
        assert_eq!(full["listVersion"], 1, "{label}: {full}");
        assert_eq!(full["updateType"], "Full", "{label}: {full}");
        assert_eq!(
            entries16(&full),
            pairs(&[("RF-ALWAYS", "Accepted")]),
            "{label}"
        );
        let full = v201.local_list().await.unwrap();
        assert_eq!(full["versionNumber"], 1, "{label}: {full}");
        assert_eq!(full["updateType"], "Full", "{label}: {full}");
        assert_eq!(
            entries201(&full),
            pairs(&[("RF-ALWAYS", "Accepted")]),
            "{label}"
        );

        // ALLOWED_OFFLINE joins by a Differential update; ALLOWED still does not.
        put(&server, &emsp, "RF-OFFLINE", "ALLOWED_OFFLINE").await;
        let diff = v16.local_list().await.unwrap();
        assert_eq!(
            (diff["listVersion"].clone(), diff["updateType"].clone()),
            (json!(2), json!("Differential")),
            "{label}: {diff}"
        );
        assert_eq!(
            entries16(&diff),
            pairs(&[("RF-OFFLINE", "Accepted")]),
            "{label}"
        );
        let diff = v201.local_list().await.unwrap();
        assert_eq!(diff["versionNumber"], 2, "{label}: {diff}");
        assert_eq!(
            entries201(&diff),
            pairs(&[("RF-OFFLINE", "Accepted")]),
            "{label}"
        );

        // The CPMS records what each station holds once it accepted.
        let list = recorded_list(&server, "CS-RL16", 2).await;
        let held: Vec<&str> = list["entries"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["id_token"].as_str().unwrap())
            .collect();
        assert_eq!(held, ["RF-ALWAYS", "RF-OFFLINE"], "{label}: {list}");

        // Whitelist NEVER and valid = false each remove the token.
        patch(&server, &emsp, "RF-ALWAYS", json!({"whitelist": "NEVER"})).await;
        let gone = v16.local_list().await.unwrap();
        assert_eq!(gone["listVersion"], 3, "{label}: {gone}");
        assert_eq!(
            entries16(&gone),
            pairs(&[("RF-ALWAYS", "")]),
            "{label}: {gone}"
        );
        let gone = v201.local_list().await.unwrap();
        assert_eq!(
            entries201(&gone),
            pairs(&[("RF-ALWAYS", "")]),
            "{label}: {gone}"
        );
        patch(&server, &emsp, "RF-OFFLINE", json!({"valid": false})).await;
        let gone = v16.local_list().await.unwrap();
        assert_eq!(
            entries16(&gone),
            pairs(&[("RF-OFFLINE", "")]),
            "{label}: {gone}"
        );
        let gone = v201.local_list().await.unwrap();
        assert_eq!(
            entries201(&gone),
            pairs(&[("RF-OFFLINE", "")]),
            "{label}: {gone}"
        );
        let list = recorded_list(&server, "CS-RL201", 4).await;
        assert_eq!(list["entries"], json!([]), "{label}: {list}");

        // The charger still works as usual meanwhile: the lists did not block its own calls.
        let auth = v16
            .call("Authorize", json!({"idTag": "RF-ALLOWED"}))
            .await
            .unwrap();
        assert!(auth["idTagInfo"]["status"].is_string(), "{label}: {auth}");
        assert!(v16.pending.is_empty(), "{label}: {:?}", v16.pending);
        server.stop().await;
    }
}

#[tokio::test]
async fn a_charger_that_was_offline_gets_the_roaming_list_when_it_reconnects() {
    for db in databases().await {
        let label = db.label;
        let server = test_server(&db).await;
        let emsp = TokensEmsp::register(&server).await;
        let mut cs = Station::booted16(&server, "CS-RL-OFF").await;
        cs.cs.close().await.unwrap();
        server.wait_connected("CS-RL-OFF", false).await.unwrap();

        // The eMSP's PUT is answered while the station is away.
        put(&server, &emsp, "RF-AWAY", "ALWAYS").await;
        let (_, list) = server
            .api("GET", "/api/stations/CS-RL-OFF/local-list", None)
            .await
            .unwrap();
        assert_eq!(list["list_version"], 0, "{label}: {list}");

        // Back without a new boot: the list follows the reconnection.
        let mut cs = Station::new(server.connect("CS-RL-OFF").await.unwrap());
        let full = cs.local_list().await.unwrap();
        assert_eq!(full["updateType"], "Full", "{label}: {full}");
        assert_eq!(
            entries16(&full),
            pairs(&[("RF-AWAY", "Accepted")]),
            "{label}"
        );
        let list = recorded_list(&server, "CS-RL-OFF", 1).await;
        assert_eq!(list["entries"][0]["id_token"], "RF-AWAY", "{label}: {list}");
        server.stop().await;
    }
}

/// The operator sends `cs`'s station a Full update of the operator's own tokens; the charger
/// accepts it. Returns the SendLocalList payload.
async fn operator_full(server: &TestServer, cs: &mut Station, station: &str) -> Value {
    let path = format!("/api/stations/{station}/local-list");
    let (api, sent) = tokio::join!(
        server.api("POST", &path, Some(json!({"update_type": "Full"}))),
        cs.local_list()
    );
    let (status, body) = api.unwrap();
    assert_eq!(status, 200, "{body}");
    sent.unwrap()
}

#[tokio::test]
async fn the_operators_own_entries_stay_beside_the_roaming_ones() {
    for db in databases().await {
        let label = db.label;
        let server = test_server(&db).await;
        let emsp = TokensEmsp::register(&server).await;
        accepted_token(&server, "OWN-1").await.unwrap();
        let mut cs = Station::booted16(&server, "CS-RL-OWN").await;
        let full = operator_full(&server, &mut cs, "CS-RL-OWN").await;
        assert_eq!(entries16(&full), pairs(&[("OWN-1", "Accepted")]), "{label}");

        // A roaming token joins the operator's list by a Differential update.
        put(&server, &emsp, "RF-JOIN", "ALWAYS").await;
        let diff = cs.local_list().await.unwrap();
        assert_eq!(
            (diff["listVersion"].clone(), diff["updateType"].clone()),
            (json!(2), json!("Differential")),
            "{label}: {diff}"
        );
        assert_eq!(
            entries16(&diff),
            pairs(&[("RF-JOIN", "Accepted")]),
            "{label}"
        );

        recorded_list(&server, "CS-RL-OWN", 2).await;
        // The operator's Full update replaces the list; the roaming token comes back after it.
        let full = operator_full(&server, &mut cs, "CS-RL-OWN").await;
        assert_eq!(full["listVersion"], 3, "{label}: {full}");
        assert_eq!(entries16(&full), pairs(&[("OWN-1", "Accepted")]), "{label}");
        let back = cs.local_list().await.unwrap();
        assert_eq!(back["listVersion"], 4, "{label}: {back}");
        assert_eq!(
            entries16(&back),
            pairs(&[("RF-JOIN", "Accepted")]),
            "{label}"
        );

        // Removing the roaming token leaves the operator's entry alone.
        patch(&server, &emsp, "RF-JOIN", json!({"valid": false})).await;
        let gone = cs.local_list().await.unwrap();
        assert_eq!(
            entries16(&gone),
            pairs(&[("RF-JOIN", "")]),
            "{label}: {gone}"
        );
        let list = recorded_list(&server, "CS-RL-OWN", 5).await;
        assert_eq!(
            list["entries"].as_array().map(Vec::len),
            Some(1),
            "{label}: {list}"
        );
        assert_eq!(list["entries"][0]["id_token"], "OWN-1", "{label}: {list}");
        server.stop().await;
    }
}

#[tokio::test]
async fn a_charger_without_local_lists_is_not_asked_again_until_it_reconnects() {
    for db in databases().await {
        let label = db.label;
        let server = test_server(&db).await;
        let emsp = TokensEmsp::register(&server).await;
        let mut cs = Station::booted16(&server, "CS-RL-NS").await;
        put(&server, &emsp, "RF-NS1", "ALWAYS").await;
        let (id, action, _) = cs.next_call().await.unwrap();
        assert_eq!(action, "SendLocalList", "{label}");
        cs.cs
            .reply(&id, json!({"status": "NotSupported"}))
            .await
            .unwrap();

        // Another token change does not ask again. A second charger witnesses that the sync
        // handled the change: rounds run one after the other, so once the witness has the next
        // change, any request for the first charger would already be on its socket.
        put(&server, &emsp, "RF-NS2", "ALWAYS").await;
        let mut witness = Station::booted16(&server, "CS-RL-NS-W").await;
        let full = witness.local_list().await.unwrap();
        assert_eq!(entries16(&full).len(), 2, "{label}: {full}");
        put(&server, &emsp, "RF-NS3", "ALLOWED_OFFLINE").await;
        let diff = witness.local_list().await.unwrap();
        assert_eq!(
            entries16(&diff),
            pairs(&[("RF-NS3", "Accepted")]),
            "{label}"
        );
        cs.call("Heartbeat", json!({})).await.unwrap();
        assert!(cs.pending.is_empty(), "{label}: {:?}", cs.pending);

        // Reconnected, it is offered the list again.
        cs.cs.close().await.unwrap();
        server.wait_connected("CS-RL-NS", false).await.unwrap();
        let mut cs = Station::new(server.connect("CS-RL-NS").await.unwrap());
        let full = cs.local_list().await.unwrap();
        assert_eq!(
            entries16(&full),
            pairs(&[
                ("RF-NS1", "Accepted"),
                ("RF-NS2", "Accepted"),
                ("RF-NS3", "Accepted")
            ]),
            "{label}"
        );
        server.stop().await;
    }
}
