//! Test harness: a real CPMS on port 0 over a real database, and a minimal OCPP-J charger speaking
//! over a real websocket.
#![allow(dead_code)]

use std::time::Duration;

use anyhow::{anyhow, bail, Context, Result};
use base64::Engine;
use cpms::config::{Settings, UnknownStations};
use cpms::Server;
use futures_util::{SinkExt, StreamExt};
use sea_orm::{ConnectionTrait, Database};
use serde_json::{json, Value};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

/// How long a test waits for any single event before failing.
pub const WAIT: Duration = Duration::from_secs(10);

/// A database for one test: a fresh SQLite file, or a fresh PostgreSQL database.
pub struct TestDb {
    pub url: String,
    pub label: &'static str,
    _dir: Option<tempfile::TempDir>,
    /// For PostgreSQL: the server URL to connect to and the database to drop afterwards.
    cleanup: Option<(String, String)>,
}

impl Drop for TestDb {
    /// Drops a test's PostgreSQL database so they do not pile up on the server. Drop cannot await,
    /// so this runs on a thread with its own runtime; a failure only leaves the database behind.
    fn drop(&mut self) {
        let Some((base, name)) = self.cleanup.take() else {
            return;
        };
        let _ = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .ok()?;
            runtime.block_on(async {
                let admin = Database::connect(&base).await.ok()?;
                admin
                    .execute_unprepared(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                    .await
                    .ok()
            })
        })
        .join();
    }
}

/// The databases every storage test runs on: SQLite always; PostgreSQL when
/// `CPMS_TEST_DATABASE_URL` is set (and then it must be reachable: the test fails otherwise).
pub async fn databases() -> Vec<TestDb> {
    let mut dbs = vec![sqlite()];
    if let Ok(base) = std::env::var("CPMS_TEST_DATABASE_URL") {
        dbs.push(
            postgres(&base)
                .await
                .expect("CPMS_TEST_DATABASE_URL is set but PostgreSQL is unusable"),
        );
    }
    dbs
}

pub fn sqlite() -> TestDb {
    let dir = tempfile::tempdir().expect("tempdir");
    let url = format!("sqlite://{}/cpms.db", dir.path().display());
    TestDb {
        url,
        label: "sqlite",
        _dir: Some(dir),
        cleanup: None,
    }
}

async fn postgres(base: &str) -> Result<TestDb> {
    let admin = Database::connect(base).await.context("connecting")?;
    let name = format!("cpms_t_{}", uuid::Uuid::new_v4().simple());
    admin
        .execute_unprepared(&format!("CREATE DATABASE {name}"))
        .await?;
    let (before_query, query) = match base.split_once('?') {
        Some((b, q)) => (b, format!("?{q}")),
        None => (base, String::new()),
    };
    let (server, _) = before_query
        .rsplit_once('/')
        .ok_or_else(|| anyhow!("database URL without a database name"))?;
    Ok(TestDb {
        url: format!("{server}/{name}{query}"),
        label: "postgres",
        _dir: None,
        cleanup: Some((base.to_owned(), name)),
    })
}

/// Settings for a test server on loopback, port 0.
pub fn settings(db: &TestDb) -> Settings {
    let mut s = Settings::default();
    s.ocpp.listen = "127.0.0.1:0".into();
    s.http.listen = "127.0.0.1:0".into();
    s.database.url = db.url.clone();
    s.database.max_connections = 4;
    s.ocpp.unknown_stations = UnknownStations::Accept;
    // Test chargers script every call the server sends them; the roaming local-list sync
    // would send SendLocalList unasked. `roaming_local_lists.rs` switches it on.
    s.ocpi.roaming_local_lists = false;
    s
}

/// A running server and an operator-API client.
pub struct TestServer {
    pub server: Server,
    pub token: String,
    pub http: reqwest::Client,
}

impl TestServer {
    pub async fn start(settings: &Settings) -> Result<TestServer> {
        let server = Server::start(settings).await?;
        let secret =
            cpms::secrets::jwt_secret(server.core.db(), settings.api.jwt_secret.as_deref()).await?;
        let token = cpms::secrets::TokenKeys::new(&secret).issue("test", 1)?;
        Ok(TestServer {
            server,
            token,
            http: reqwest::Client::new(),
        })
    }

    pub fn ws_url(&self, station_id: &str) -> String {
        format!("ws://{}/ocpp/{station_id}", self.server.ocpp_addr)
    }

    pub fn api_url(&self, path: &str) -> String {
        format!("http://{}{path}", self.server.http_addr)
    }

    /// An authenticated API request; returns status and JSON body (Null when empty).
    pub async fn api(&self, method: &str, path: &str, body: Option<Value>) -> Result<(u16, Value)> {
        let method = reqwest::Method::from_bytes(method.as_bytes())?;
        let mut req = self
            .http
            .request(method, self.api_url(path))
            .bearer_auth(&self.token)
            .timeout(Duration::from_secs(120));
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req.send().await?;
        let status = resp.status().as_u16();
        let text = resp.text().await?;
        let value = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).with_context(|| format!("non-JSON body: {text}"))?
        };
        Ok((status, value))
    }

    pub async fn connect(&self, station_id: &str) -> Result<Charger> {
        Charger::connect(&self.ws_url(station_id), &["ocpp1.6"], None).await
    }

    pub async fn stop(self) {
        self.server.stop().await.expect("clean shutdown");
    }
}

/// A minimal OCPP-J 1.6 charger over a real websocket.
pub struct Charger {
    pub ws: WebSocketStream<MaybeTlsStream<TcpStream>>,
    pub subprotocol: Option<String>,
    next_id: u64,
}

/// The outcome of a failed handshake.
pub fn handshake_status(err: &tokio_tungstenite::tungstenite::Error) -> Option<u16> {
    match err {
        tokio_tungstenite::tungstenite::Error::Http(resp) => Some(resp.status().as_u16()),
        _ => None,
    }
}

impl Charger {
    pub async fn connect(
        url: &str,
        subprotocols: &[&str],
        basic: Option<(&str, &str)>,
    ) -> Result<Charger> {
        Self::try_connect(url, subprotocols, basic)
            .await
            .map_err(|e| anyhow!("handshake failed: {e}"))
    }

    pub async fn try_connect(
        url: &str,
        subprotocols: &[&str],
        basic: Option<(&str, &str)>,
    ) -> Result<Charger, tokio_tungstenite::tungstenite::Error> {
        Self::try_connect_with(url, subprotocols, basic, None).await
    }

    /// [`Charger::try_connect`] with a TLS connector of the test's choosing (for `wss://`).
    pub async fn try_connect_with(
        url: &str,
        subprotocols: &[&str],
        basic: Option<(&str, &str)>,
        connector: Option<tokio_tungstenite::Connector>,
    ) -> Result<Charger, tokio_tungstenite::tungstenite::Error> {
        let mut request = url.into_client_request()?;
        if !subprotocols.is_empty() {
            request.headers_mut().insert(
                "Sec-WebSocket-Protocol",
                HeaderValue::from_str(&subprotocols.join(", ")).expect("header"),
            );
        }
        if let Some((user, password)) = basic {
            let encoded =
                base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
            request.headers_mut().insert(
                "Authorization",
                HeaderValue::from_str(&format!("Basic {encoded}")).expect("header"),
            );
        }
        let (ws, response) =
            tokio_tungstenite::connect_async_tls_with_config(request, None, false, connector)
                .await?;
        let subprotocol = response
            .headers()
            .get("Sec-WebSocket-Protocol")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        Ok(Charger {
            ws,
            subprotocol,
            next_id: 1,
        })
    }

    /// Sends a raw text message.
    pub async fn send_text(&mut self, text: &str) -> Result<()> {
        self.ws.send(Message::Text(text.to_owned().into())).await?;
        Ok(())
    }

    /// The next OCPP-J frame from the CSMS, as a JSON array.
    pub async fn recv(&mut self) -> Result<Value> {
        loop {
            let msg = tokio::time::timeout(WAIT, self.ws.next())
                .await
                .map_err(|_| anyhow!("no message within {WAIT:?}"))?
                .ok_or_else(|| anyhow!("connection closed"))??;
            match msg {
                Message::Text(t) => return Ok(serde_json::from_str(&t)?),
                Message::Close(frame) => bail!("closed by server: {frame:?}"),
                _ => continue,
            }
        }
    }

    /// Waits for the server to close the connection; returns the close code.
    pub async fn closed(&mut self) -> Result<Option<u16>> {
        loop {
            match tokio::time::timeout(WAIT, self.ws.next())
                .await
                .map_err(|_| anyhow!("not closed within {WAIT:?}"))?
            {
                None => return Ok(None),
                Some(Err(_)) => return Ok(None),
                Some(Ok(Message::Close(frame))) => return Ok(frame.map(|f| u16::from(f.code))),
                Some(Ok(_)) => continue,
            }
        }
    }

    /// Sends a CALL and returns the answer frame (CALLRESULT or CALLERROR) as a JSON array.
    pub async fn call_raw(&mut self, action: &str, payload: Value) -> Result<Value> {
        let id = format!("m{}", self.next_id);
        self.next_id += 1;
        self.send_text(&json!([2, id, action, payload]).to_string())
            .await?;
        let answer = self.recv().await?;
        if answer[1] != json!(id) {
            bail!("answer for another id: {answer}");
        }
        Ok(answer)
    }

    /// Sends a CALL and returns the CALLRESULT payload; a CALLERROR is an error.
    pub async fn call(&mut self, action: &str, payload: Value) -> Result<Value> {
        let answer = self.call_raw(action, payload).await?;
        if answer[0] != json!(3) {
            bail!("{action} answered with {answer}");
        }
        Ok(answer[2].clone())
    }

    /// Waits for a CALL from the CSMS: (unique id, action, payload).
    pub async fn expect_call(&mut self) -> Result<(String, String, Value)> {
        let frame = self.recv().await?;
        if frame[0] != json!(2) {
            bail!("expected a CALL, got {frame}");
        }
        Ok((
            frame[1].as_str().unwrap_or_default().to_owned(),
            frame[2].as_str().unwrap_or_default().to_owned(),
            frame[3].clone(),
        ))
    }

    /// Answers a CSMS CALL.
    pub async fn reply(&mut self, unique_id: &str, payload: Value) -> Result<()> {
        self.send_text(&json!([3, unique_id, payload]).to_string())
            .await
    }

    pub async fn boot(&mut self) -> Result<Value> {
        self.call(
            "BootNotification",
            json!({"chargePointVendor": "TestVendor", "chargePointModel": "T1", "chargePointSerialNumber": "SN1", "firmwareVersion": "1.0"}),
        )
        .await
    }

    pub async fn status(&mut self, connector: u32, status: &str) -> Result<Value> {
        self.call(
            "StatusNotification",
            json!({"connectorId": connector, "errorCode": "NoError", "status": status, "timestamp": now()}),
        )
        .await
    }

    pub async fn start(
        &mut self,
        connector: u32,
        id_tag: &str,
        meter: i64,
        at: &str,
    ) -> Result<Value> {
        self.call(
            "StartTransaction",
            json!({"connectorId": connector, "idTag": id_tag, "meterStart": meter, "timestamp": at}),
        )
        .await
    }

    pub async fn stop(&mut self, tx: i64, meter: i64, reason: &str) -> Result<Value> {
        self.call(
            "StopTransaction",
            json!({"transactionId": tx, "meterStop": meter, "timestamp": now(), "reason": reason}),
        )
        .await
    }
}

pub fn now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// Creates an accepted id token through the API.
pub async fn accepted_token(server: &TestServer, id: &str) -> Result<()> {
    let (status, body) = server
        .api(
            "POST",
            "/api/id-tokens",
            Some(json!({"id_token": id, "status": "Accepted"})),
        )
        .await?;
    if status != 201 {
        bail!("creating token: {status} {body}");
    }
    Ok(())
}

/// Who an operator-API request claims to be.
pub enum Auth<'a> {
    /// No `Authorization` header.
    None,
    /// `Authorization: Bearer <token>`.
    Bearer(&'a str),
}

impl TestServer {
    /// An API request with a raw body (sent as `application/json`, whatever it holds) and the
    /// given credentials; returns status and JSON body (Null when empty). A non-JSON body is an
    /// error: every answer of the operator API is JSON.
    pub async fn api_raw(
        &self,
        method: &str,
        path: &str,
        body: Option<&str>,
        auth: Auth<'_>,
    ) -> Result<(u16, Value)> {
        let method = reqwest::Method::from_bytes(method.as_bytes())?;
        let mut req = self
            .http
            .request(method, self.api_url(path))
            .timeout(Duration::from_secs(120));
        if let Auth::Bearer(token) = auth {
            req = req.bearer_auth(token);
        }
        if let Some(b) = body {
            req = req
                .header("Content-Type", "application/json")
                .body(b.to_owned());
        }
        let resp = req.send().await?;
        let status = resp.status().as_u16();
        let text = resp.text().await?;
        let value = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).with_context(|| format!("non-JSON body: {text}"))?
        };
        Ok((status, value))
    }

    /// Polls `GET /api/stations/{id}` until its `connected` flag is `expected`; fails after
    /// [`WAIT`]. The flag follows the gateway's registry, which a closing socket updates shortly
    /// after the close, with no event a test could wait on.
    pub async fn wait_connected(&self, station_id: &str, expected: bool) -> Result<()> {
        let deadline = tokio::time::Instant::now() + WAIT;
        let mut poll = tokio::time::interval(Duration::from_millis(20));
        loop {
            poll.tick().await;
            let (status, station) = self
                .api("GET", &format!("/api/stations/{station_id}"), None)
                .await?;
            if status == 200 && station["connected"] == json!(expected) {
                return Ok(());
            }
            if tokio::time::Instant::now() > deadline {
                bail!("station {station_id} still not connected={expected}: {status} {station}");
            }
        }
    }

    /// Sends `POST /api/stations/{id}/commands/{command}` from a task of its own, so the test can
    /// play the station while the operator waits for the answer.
    pub fn command(
        &self,
        station_id: &str,
        command: &str,
        body: Option<Value>,
    ) -> tokio::task::JoinHandle<Result<(u16, Value)>> {
        let http = self.http.clone();
        let url = self.api_url(&format!("/api/stations/{station_id}/commands/{command}"));
        let token = self.token.clone();
        tokio::spawn(async move {
            let mut req = http
                .post(url)
                .bearer_auth(token)
                .timeout(Duration::from_secs(120));
            if let Some(b) = body {
                req = req.json(&b);
            }
            let resp = req.send().await?;
            let status = resp.status().as_u16();
            let text = resp.text().await?;
            let value = if text.is_empty() {
                Value::Null
            } else {
                serde_json::from_str(&text).with_context(|| format!("non-JSON body: {text}"))?
            };
            Ok((status, value))
        })
    }
}

/// Awaits a task started by [`TestServer::command`], bounded by [`WAIT`].
pub async fn answer(task: tokio::task::JoinHandle<Result<(u16, Value)>>) -> Result<(u16, Value)> {
    tokio::time::timeout(WAIT, task)
        .await
        .map_err(|_| anyhow!("no API answer within {WAIT:?}"))??
}

impl Charger {
    /// Sends a raw binary message.
    pub async fn send_binary(&mut self, bytes: &[u8]) -> Result<()> {
        self.ws.send(Message::Binary(bytes.to_vec().into())).await?;
        Ok(())
    }

    /// Answers a CSMS CALL with a CALLERROR.
    pub async fn reply_error(
        &mut self,
        unique_id: &str,
        code: &str,
        description: &str,
    ) -> Result<()> {
        self.send_text(&json!([4, unique_id, code, description, {}]).to_string())
            .await
    }

    /// Closes the websocket with a normal close frame.
    pub async fn close(&mut self) -> Result<()> {
        self.ws.close(None).await?;
        Ok(())
    }
}

/// A websocket handshake made by hand, for answers a websocket client refuses to accept (a 101
/// without a subprotocol although one was offered, which RFC 6455 §4.1 tells clients to fail).
pub struct RawHandshake {
    /// HTTP status of the answer.
    pub status: u16,
    /// Answer headers, names in lower case.
    pub headers: Vec<(String, String)>,
    /// The websocket, when the status is 101.
    pub ws: Option<WebSocketStream<TcpStream>>,
}

impl RawHandshake {
    /// The first value of a header.
    pub fn header(&self, name: &str) -> Option<&str> {
        let name = name.to_ascii_lowercase();
        self.headers
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// Opens `ws://{addr}{path}` offering `subprotocols`, without judging the server's answer.
pub async fn raw_handshake(
    addr: std::net::SocketAddr,
    path: &str,
    subprotocols: &[&str],
) -> Result<RawHandshake> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = TcpStream::connect(addr).await?;
    let mut request = format!(
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
    );
    if !subprotocols.is_empty() {
        request.push_str(&format!(
            "Sec-WebSocket-Protocol: {}\r\n",
            subprotocols.join(", ")
        ));
    }
    request.push_str("\r\n");
    stream.write_all(request.as_bytes()).await?;
    // Byte by byte up to the blank line, so no websocket frame after the head is consumed.
    let mut head = Vec::new();
    while !head.ends_with(b"\r\n\r\n") {
        let mut byte = [0u8; 1];
        let n = tokio::time::timeout(WAIT, stream.read(&mut byte))
            .await
            .map_err(|_| anyhow!("no handshake answer within {WAIT:?}"))??;
        if n == 0 {
            bail!("connection closed during the handshake");
        }
        head.push(byte[0]);
    }
    let head = String::from_utf8(head)?;
    let mut lines = head.split("\r\n");
    let status = lines
        .next()
        .and_then(|l| l.split(' ').nth(1))
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| anyhow!("bad status line in {head:?}"))?;
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    let ws = if status == 101 {
        Some(
            WebSocketStream::from_raw_socket(
                stream,
                tokio_tungstenite::tungstenite::protocol::Role::Client,
                None,
            )
            .await,
        )
    } else {
        None
    };
    Ok(RawHandshake {
        status,
        headers,
        ws,
    })
}

/// OCPP 2.0.1 helpers: a charger that offers other subprotocols, and the 2.0.1 messages tests
/// send most.
impl TestServer {
    /// A charger offering exactly `subprotocols` (e.g. `["ocpp2.0.1"]`, or both versions).
    pub async fn connect_with(&self, station_id: &str, subprotocols: &[&str]) -> Result<Charger> {
        Charger::connect(&self.ws_url(station_id), subprotocols, None).await
    }

    /// A charger speaking OCPP 2.0.1.
    pub async fn connect_v201(&self, station_id: &str) -> Result<Charger> {
        self.connect_with(station_id, &["ocpp2.0.1"]).await
    }
}

impl Charger {
    /// 2.0.1 BootNotification.
    pub async fn boot201(&mut self) -> Result<Value> {
        self.call(
            "BootNotification",
            json!({"reason": "PowerUp", "chargingStation": {"vendorName": "TestVendor201", "model": "T2", "serialNumber": "SN201", "firmwareVersion": "2.0"}}),
        )
        .await
    }

    /// 2.0.1 StatusNotification of one connector.
    pub async fn status201(&mut self, evse: i32, connector: i32, status: &str) -> Result<Value> {
        self.call(
            "StatusNotification",
            json!({"timestamp": now(), "connectorStatus": status, "evseId": evse, "connectorId": connector}),
        )
        .await
    }

    /// A 2.0.1 TransactionEvent; `register_wh` adds one energy register reading at `at`.
    #[allow(clippy::too_many_arguments)]
    pub async fn tx_event(
        &mut self,
        event_type: &str,
        transaction_id: &str,
        seq_no: i64,
        at: &str,
        trigger_reason: &str,
        register_wh: Option<i64>,
        extra: Value,
    ) -> Result<Value> {
        let mut payload = json!({
            "eventType": event_type, "timestamp": at, "triggerReason": trigger_reason,
            "seqNo": seq_no, "transactionInfo": {"transactionId": transaction_id}
        });
        if let Some(wh) = register_wh {
            payload["meterValue"] = json!([{"timestamp": at, "sampledValue": [
                {"value": wh, "measurand": "Energy.Active.Import.Register", "unitOfMeasure": {"unit": "Wh"}}
            ]}]);
        }
        if let (Some(target), Value::Object(more)) = (payload.as_object_mut(), extra) {
            for (key, value) in more {
                if key == "transactionInfo" {
                    if let (Some(info), Value::Object(fields)) =
                        (target["transactionInfo"].as_object_mut(), value)
                    {
                        info.extend(fields);
                    }
                } else {
                    target.insert(key, value);
                }
            }
        }
        self.call("TransactionEvent", payload).await
    }
}

/// An RFC 3339 time `minutes` after a fixed test epoch, so tests can order events by time.
pub fn at_minute(minutes: i64) -> String {
    let base = chrono::DateTime::parse_from_rfc3339("2025-03-01T08:00:00Z")
        .expect("epoch")
        .with_timezone(&chrono::Utc);
    (base + chrono::Duration::minutes(minutes)).to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}
