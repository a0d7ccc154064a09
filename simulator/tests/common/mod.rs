//! Test harness: the real CPMS in-process on port 0 over a fresh database (SQLite, and PostgreSQL
//! when `CPMS_TEST_DATABASE_URL` is set), and an operator-API client to check what the simulator
//! left in it.
#![allow(dead_code)]

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{anyhow, bail, Context, Result};
use cpms::config::{Settings, UnknownStations};
use cpms::Server;
use sea_orm::{ConnectionTrait, Database};
use serde_json::{json, Value};
use simulator::metrics::SessionRecord;
use simulator::scenario::Scenario;

/// How long a test polls the API for an outcome before failing.
pub const WAIT: Duration = Duration::from_secs(30);

/// A fresh database for one test.
pub struct TestDb {
    /// Connection URL.
    pub url: String,
    /// `sqlite` or `postgres`.
    pub label: &'static str,
    _dir: Option<tempfile::TempDir>,
    cleanup: Option<(String, String)>,
}

impl Drop for TestDb {
    /// Drops a PostgreSQL test database (on a thread with its own runtime: Drop cannot await).
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

/// SQLite always; PostgreSQL too when `CPMS_TEST_DATABASE_URL` is set.
pub async fn databases() -> Vec<TestDb> {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut dbs = vec![TestDb {
        url: format!("sqlite://{}/cpms.db", dir.path().display()),
        label: "sqlite",
        _dir: Some(dir),
        cleanup: None,
    }];
    if let Ok(base) = std::env::var("CPMS_TEST_DATABASE_URL") {
        dbs.push(
            postgres(&base)
                .await
                .expect("CPMS_TEST_DATABASE_URL is set but PostgreSQL is unusable"),
        );
    }
    dbs
}

async fn postgres(base: &str) -> Result<TestDb> {
    let admin = Database::connect(base).await.context("connecting")?;
    let name = format!("sim_t_{}", uuid_hex());
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

fn uuid_hex() -> String {
    use std::time::{SystemTime, UNIX_EPOCH};
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    format!("{:x}{:x}", nanos, std::process::id())
}

/// The real CPMS and an operator-API client.
pub struct Cpms {
    pub server: Server,
    pub token: String,
    pub http: reqwest::Client,
}

impl Cpms {
    /// Starts the CPMS on loopback, port 0, accepting unknown stations.
    pub async fn start(db: &TestDb) -> Result<Cpms> {
        Self::start_with(db, |_| {}).await
    }

    /// [`Cpms::start`] with `tokens` accepted; panics when either fails.
    pub async fn start_with_tokens(db: &TestDb, tokens: &[&str]) -> Cpms {
        let cpms = Self::start(db).await.expect("cpms starts");
        cpms.accept_tokens(tokens).await.expect("tokens");
        cpms
    }

    /// [`Cpms::start`] with settings adjusted by `adjust`.
    pub async fn start_with(db: &TestDb, adjust: impl FnOnce(&mut Settings)) -> Result<Cpms> {
        let mut s = Settings::default();
        s.ocpp.listen = "127.0.0.1:0".into();
        s.http.listen = "127.0.0.1:0".into();
        s.database.url = db.url.clone();
        s.database.max_connections = 4;
        s.ocpp.unknown_stations = UnknownStations::Accept;
        adjust(&mut s);
        let server = Server::start(&s).await?;
        let secret =
            cpms::secrets::jwt_secret(server.core.db(), s.api.jwt_secret.as_deref()).await?;
        let token = cpms::secrets::TokenKeys::new(&secret).issue("simulator-test", 1)?;
        Ok(Cpms {
            server,
            token,
            http: reqwest::Client::new(),
        })
    }

    /// The base URL stations connect to.
    pub fn ocpp_url(&self) -> String {
        format!("ws://{}/ocpp", self.server.ocpp_addr)
    }

    /// An operator-API request: status and JSON body (Null when empty).
    pub async fn api(&self, method: &str, path: &str, body: Option<Value>) -> Result<(u16, Value)> {
        let method = reqwest::Method::from_bytes(method.as_bytes())?;
        let mut req = self
            .http
            .request(method, format!("http://{}{path}", self.server.http_addr))
            .bearer_auth(&self.token)
            .timeout(Duration::from_secs(60));
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

    /// Registers a station (`POST /api/stations` with `body`); panics unless it is created.
    pub async fn add_station(&self, body: Value) {
        let (status, reply) = self
            .api("POST", "/api/stations", Some(body))
            .await
            .expect("api");
        assert_eq!(status, 201, "{reply}");
    }

    /// Creates accepted id tokens.
    pub async fn accept_tokens(&self, tokens: &[&str]) -> Result<()> {
        for token in tokens {
            let (status, body) = self
                .api(
                    "POST",
                    "/api/id-tokens",
                    Some(json!({"id_token": token, "status": "Accepted"})),
                )
                .await?;
            if status != 201 {
                bail!("creating token {token}: {status} {body}");
            }
        }
        Ok(())
    }

    /// Every transaction of stations whose id starts with `prefix`.
    pub async fn transactions(&self, prefix: &str) -> Result<Vec<Value>> {
        let mut all = Vec::new();
        let mut offset = 0;
        loop {
            let (status, body) = self
                .api(
                    "GET",
                    &format!("/api/transactions?limit=100&offset={offset}"),
                    None,
                )
                .await?;
            if status != 200 {
                bail!("listing transactions: {status} {body}");
            }
            let items = body["items"].as_array().cloned().unwrap_or_default();
            let n = items.len();
            all.extend(items.into_iter().filter(|t| {
                t["station_id"]
                    .as_str()
                    .is_some_and(|s| s.starts_with(prefix))
            }));
            if n < 100 {
                return Ok(all);
            }
            offset += 100;
        }
    }

    /// Polls until the stored transactions of `prefix` are exactly `expected` (all Stopped, same
    /// registers), or fails after [`WAIT`] showing the difference.
    pub async fn expect_transactions(
        &self,
        prefix: &str,
        expected: &[SessionRecord],
    ) -> Result<()> {
        let deadline = tokio::time::Instant::now() + WAIT;
        let mut want: Vec<(String, i64, String, i64, i64)> = expected
            .iter()
            .map(|s| {
                (
                    s.station_id.clone(),
                    i64::from(s.evse_id),
                    s.id_token.clone(),
                    s.meter_start_wh as i64,
                    s.meter_stop_wh as i64,
                )
            })
            .collect();
        want.sort();
        loop {
            let stored = self.transactions(prefix).await?;
            let mut got: Vec<(String, i64, String, i64, i64)> = stored
                .iter()
                .filter(|t| t["state"] == "Stopped")
                .map(|t| {
                    (
                        t["station_id"].as_str().unwrap_or_default().to_owned(),
                        t["evse_id"].as_i64().unwrap_or_default(),
                        t["id_token"].as_str().unwrap_or_default().to_owned(),
                        number(&t["meter_start_wh"]),
                        number(&t["meter_stop_wh"]),
                    )
                })
                .collect();
            got.sort();
            let all_stopped = stored.iter().all(|t| t["state"] == "Stopped");
            if got == want && all_stopped && stored.len() == want.len() {
                // Energy too, as the CPMS computed it.
                for t in &stored {
                    let energy = number(&t["energy_wh"]);
                    let delta = number(&t["meter_stop_wh"]) - number(&t["meter_start_wh"]);
                    if energy != delta {
                        bail!("transaction {} energy {energy} ≠ {delta}", t["id"]);
                    }
                }
                return Ok(());
            }
            if tokio::time::Instant::now() > deadline {
                bail!(
                    "transactions in the CPMS differ from the simulator's ledger\nwant {want:#?}\ngot {got:#?}\nall {stored:#?}"
                );
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Stops the server.
    pub async fn stop(self) {
        let _ = self.server.stop().await;
    }
}

/// Polls until `check` yields Some, at most [`WAIT`].
pub async fn poll<T, F, Fut>(mut check: F) -> Result<T>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<Option<T>>>,
{
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        if let Some(v) = check().await? {
            return Ok(v);
        }
        if tokio::time::Instant::now() > deadline {
            bail!("not reached within {WAIT:?}");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A Decimal the API renders as a string (or a number) as a whole number.
pub fn number(v: &Value) -> i64 {
    match v {
        Value::String(s) => s.parse::<f64>().map(|f| f as i64).unwrap_or(-1),
        Value::Number(n) => n.as_f64().map(|f| f as i64).unwrap_or(-1),
        _ => -1,
    }
}

/// A scenario from `simulator/scenarios/`.
pub fn scenario(name: &str) -> Scenario {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("scenarios")
        .join(format!("{name}.toml"));
    Scenario::load(&path).expect("scenario parses")
}
