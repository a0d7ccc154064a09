//! OCPP 1.6J throughput of the CPMS, measured end to end over real websockets.
//!
//! Starts the real server in this process (SQLite in a temporary directory, or a fresh PostgreSQL
//! database when `CPMS_BENCH_DATABASE_URL` is set), opens N chargers on 127.0.0.1, and lets each run
//! BootNotification, StatusNotification, then T transactions of StartTransaction, K MeterValues and
//! StopTransaction, with a Heartbeat every few calls. Each charger sends its next CALL as soon as
//! it has the answer to the previous one. It prints throughput and per-action latency, then checks
//! through the core that every transaction and meter sample was stored with the right energy; a
//! missing row, a wrong energy or any CALLERROR makes it exit non-zero.
//!
//! ```sh
//! cargo bench -p cpms --bench ocpp_throughput -- --stations 200 --transactions 3 --meter-values 10
//! CPMS_BENCH_DATABASE_URL=postgres://postgres@127.0.0.1:5432/test cargo bench -p cpms --bench ocpp_throughput
//! ```
//!
//! Every wait is bounded: a connect, each answer, the whole run and the shutdown have timeouts.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context, Result};
use chrono::{DateTime, SecondsFormat, Utc};
use cpms::config::{Settings, UnknownStations};
use cpms::core::{IdTokenRecord, IdTokenStatus, TransactionFilter, TransactionState};
use cpms::Server;
use futures_util::{SinkExt, StreamExt};
use sea_orm::{
    ColumnTrait, ConnectionTrait, Database, DatabaseConnection, EntityTrait, PaginatorTrait,
    QueryFilter, Statement,
};
use serde_json::{json, Value};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

/// How long a charger waits for its websocket handshake.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a charger waits for the answer to one CALL.
const ANSWER_TIMEOUT: Duration = Duration::from_secs(30);
/// How long the server gets to shut down.
const SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(30);
/// The id token every transaction is started with; created as Accepted before the run.
const ID_TAG: &str = "BENCH-TAG";
/// Energy the meter advances between two readings (Wh).
const STEP_WH: i64 = 100;
/// Sampled values per MeterValues: energy register, power, current.
const SAMPLES_PER_METER_VALUE: u64 = 3;

/// What one run does; from the command line, then `CPMS_BENCH_*` variables, then defaults.
#[derive(Debug, Clone)]
struct Params {
    stations: usize,
    transactions: usize,
    meter_values: usize,
    heartbeat_every: usize,
    max_connections: u32,
    timeout: Duration,
}

impl Params {
    fn parse() -> Result<Params> {
        let env = |name: &str, default: u64| -> Result<u64> {
            match std::env::var(name) {
                Ok(v) => v.parse().with_context(|| format!("{name}={v}")),
                Err(_) => Ok(default),
            }
        };
        let mut p = Params {
            stations: env("CPMS_BENCH_STATIONS", 200)? as usize,
            transactions: env("CPMS_BENCH_TRANSACTIONS", 3)? as usize,
            meter_values: env("CPMS_BENCH_METER_VALUES", 10)? as usize,
            heartbeat_every: env("CPMS_BENCH_HEARTBEAT_EVERY", 10)? as usize,
            max_connections: env(
                "CPMS_BENCH_MAX_CONNECTIONS",
                u64::from(Settings::default().database.max_connections),
            )? as u32,
            timeout: Duration::from_secs(env("CPMS_BENCH_TIMEOUT", 600)?),
        };
        let mut args = std::env::args().skip(1);
        while let Some(arg) = args.next() {
            // Cargo passes `--bench` to every bench target.
            if arg == "--bench" {
                continue;
            }
            let (name, inline) = match arg.split_once('=') {
                Some((n, v)) => (n.to_owned(), Some(v.to_owned())),
                None => (arg.clone(), None),
            };
            let mut value = || -> Result<u64> {
                let v = match inline.clone() {
                    Some(v) => v,
                    None => args.next().ok_or_else(|| anyhow!("{name} needs a value"))?,
                };
                v.parse().with_context(|| format!("{name} {v}"))
            };
            match name.as_str() {
                "--stations" => p.stations = value()? as usize,
                "--transactions" => p.transactions = value()? as usize,
                "--meter-values" => p.meter_values = value()? as usize,
                "--heartbeat-every" => p.heartbeat_every = value()? as usize,
                "--max-connections" => p.max_connections = value()? as u32,
                "--timeout" => p.timeout = Duration::from_secs(value()?),
                "-h" | "--help" => {
                    println!("{USAGE}");
                    std::process::exit(0);
                }
                other => bail!("unknown argument {other}\n{USAGE}"),
            }
        }
        if p.stations == 0 || p.heartbeat_every == 0 || p.max_connections == 0 {
            bail!("--stations, --heartbeat-every and --max-connections must be at least 1");
        }
        Ok(p)
    }

    /// The command that reproduces this run.
    fn command_line(&self, database_url: Option<&str>) -> String {
        let prefix = database_url
            .map(|u| format!("CPMS_BENCH_DATABASE_URL={} ", redact(u)))
            .unwrap_or_default();
        format!(
            "{prefix}cargo bench -p cpms --bench ocpp_throughput -- --stations {} --transactions {} \
             --meter-values {} --heartbeat-every {} --max-connections {} --timeout {}",
            self.stations,
            self.transactions,
            self.meter_values,
            self.heartbeat_every,
            self.max_connections,
            self.timeout.as_secs()
        )
    }
}

const USAGE: &str = "usage: cargo bench -p cpms --bench ocpp_throughput -- \
[--stations N] [--transactions T] [--meter-values K] [--heartbeat-every H] \
[--max-connections C] [--timeout SECS]
  env: CPMS_BENCH_DATABASE_URL=postgres://USER@HOST:PORT/DB runs on a fresh PostgreSQL database";

/// A database URL without its password, for printing.
fn redact(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    match rest.split_once('@') {
        Some((userinfo, host)) => match userinfo.split_once(':') {
            Some((user, _)) => format!("{scheme}://{user}:***@{host}"),
            None => url.to_owned(),
        },
        None => url.to_owned(),
    }
}

/// The station-initiated actions the run sends, in report order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Action {
    BootNotification,
    StatusNotification,
    StartTransaction,
    MeterValues,
    StopTransaction,
    Heartbeat,
}

impl Action {
    const ALL: [Action; 6] = [
        Action::BootNotification,
        Action::StatusNotification,
        Action::StartTransaction,
        Action::MeterValues,
        Action::StopTransaction,
        Action::Heartbeat,
    ];

    fn name(self) -> &'static str {
        match self {
            Action::BootNotification => "BootNotification",
            Action::StatusNotification => "StatusNotification",
            Action::StartTransaction => "StartTransaction",
            Action::MeterValues => "MeterValues",
            Action::StopTransaction => "StopTransaction",
            Action::Heartbeat => "Heartbeat",
        }
    }

    fn index(self) -> usize {
        self as usize
    }
}

/// What one charger saw: latencies per action (µs), CALLERRORs, and the transactions it ran.
#[derive(Default)]
struct ChargerLog {
    latencies: [Vec<u32>; 6],
    call_errors: Vec<String>,
    transactions: Vec<ExpectedTransaction>,
}

/// A transaction as the charger ran it, to compare with what the CPMS stored.
struct ExpectedTransaction {
    id: i64,
    station_id: String,
    meter_start_wh: i64,
    last_meter_wh: Option<i64>,
    meter_stop_wh: i64,
}

/// The answer to a CALL.
enum Answer {
    Result(Value),
    Error(String),
}

/// A minimal OCPP-J 1.6 charger: one CALL in flight at a time (OCPP-J §4.1.1).
struct Charger {
    station_id: String,
    ws: WebSocketStream<MaybeTlsStream<TcpStream>>,
    next_id: u64,
    log: ChargerLog,
    /// Time from opening the TCP connection to the end of the websocket handshake.
    handshake: Duration,
}

impl Charger {
    async fn connect(url: &str, station_id: String) -> Result<Charger> {
        let started = Instant::now();
        let mut request = url.into_client_request()?;
        request.headers_mut().insert(
            "Sec-WebSocket-Protocol",
            HeaderValue::from_static("ocpp1.6"),
        );
        let (ws, response) =
            tokio::time::timeout(CONNECT_TIMEOUT, tokio_tungstenite::connect_async(request))
                .await
                .map_err(|_| anyhow!("{station_id}: no handshake within {CONNECT_TIMEOUT:?}"))?
                .with_context(|| format!("{station_id}: handshake"))?;
        let protocol = response.headers().get("Sec-WebSocket-Protocol");
        if protocol.and_then(|v| v.to_str().ok()) != Some("ocpp1.6") {
            bail!("{station_id}: subprotocol {protocol:?} instead of ocpp1.6");
        }
        Ok(Charger {
            station_id,
            ws,
            next_id: 1,
            log: ChargerLog::default(),
            handshake: started.elapsed(),
        })
    }

    /// Sends a CALL and waits for its answer; records the latency from send to answer.
    async fn call(&mut self, action: Action, payload: Value) -> Result<Answer> {
        let id = self.next_id.to_string();
        self.next_id += 1;
        let text = json!([2, id, action.name(), payload]).to_string();
        let sent = Instant::now();
        self.ws.send(Message::Text(text.into())).await?;
        let frame: Value = loop {
            let msg = tokio::time::timeout(ANSWER_TIMEOUT, self.ws.next())
                .await
                .map_err(|_| {
                    anyhow!(
                        "{}: no answer to {} within {ANSWER_TIMEOUT:?}",
                        self.station_id,
                        action.name()
                    )
                })?
                .ok_or_else(|| anyhow!("{}: connection closed", self.station_id))??;
            match msg {
                Message::Text(t) => break serde_json::from_str(&t)?,
                Message::Close(f) => bail!("{}: closed by the server: {f:?}", self.station_id),
                _ => continue,
            }
        };
        let latency = sent.elapsed();
        if frame[1] != json!(id) {
            bail!("{}: answer for another id: {frame}", self.station_id);
        }
        self.log.latencies[action.index()]
            .push(u32::try_from(latency.as_micros()).unwrap_or(u32::MAX));
        match frame[0].as_u64() {
            Some(3) => Ok(Answer::Result(frame[2].clone())),
            Some(4) => {
                let error = format!("{} {}: {frame}", self.station_id, action.name());
                self.log.call_errors.push(error.clone());
                Ok(Answer::Error(error))
            }
            _ => bail!("{}: unexpected frame {frame}", self.station_id),
        }
    }

    /// Runs the whole scenario; a CALLERROR on a call the rest depends on ends it early.
    async fn run(mut self, p: Params, base: DateTime<Utc>) -> Result<ChargerLog> {
        let stamp = |t: DateTime<Utc>| t.to_rfc3339_opts(SecondsFormat::Millis, true);
        let mut calls = 0usize;
        self.call(
            Action::BootNotification,
            json!({"chargePointVendor": "Bench", "chargePointModel": "B1",
                   "chargePointSerialNumber": self.station_id, "firmwareVersion": "1.0"}),
        )
        .await?;
        self.call(
            Action::StatusNotification,
            json!({"connectorId": 1, "errorCode": "NoError", "status": "Available",
                   "timestamp": stamp(Utc::now())}),
        )
        .await?;
        calls += 2;
        // The meter register carries on across transactions, as a real meter's does.
        let mut register = 10_000i64;
        // Station times are synthetic and spaced one second per message, so every start of a
        // station is distinct: the core treats a start with the same (station, EVSE, time) as a
        // retransmission and would answer it with the first transaction's id.
        let slot = chrono::Duration::seconds(p.meter_values as i64 + 2);
        for t in 0..p.transactions {
            let started = base + slot * t as i32;
            let meter_start = register;
            let answer = self
                .call(
                    Action::StartTransaction,
                    json!({"connectorId": 1, "idTag": ID_TAG, "meterStart": meter_start,
                           "timestamp": stamp(started)}),
                )
                .await?;
            calls += 1;
            let tx_id = match answer {
                Answer::Result(r) => r["transactionId"]
                    .as_i64()
                    .ok_or_else(|| anyhow!("{}: StartTransaction answer {r}", self.station_id))?,
                Answer::Error(e) => bail!("cannot go on after a CALLERROR: {e}"),
            };
            for k in 0..p.meter_values {
                calls = self.heartbeat_if_due(calls, p.heartbeat_every).await?;
                register += STEP_WH;
                let at = started + chrono::Duration::seconds(k as i64 + 1);
                self.call(
                    Action::MeterValues,
                    json!({"connectorId": 1, "transactionId": tx_id, "meterValue": [
                        {"timestamp": stamp(at), "sampledValue": [
                            {"value": register.to_string(), "context": "Sample.Periodic",
                             "measurand": "Energy.Active.Import.Register", "unit": "Wh"},
                            {"value": "11000", "context": "Sample.Periodic",
                             "measurand": "Power.Active.Import", "unit": "W"},
                            {"value": "16.0", "context": "Sample.Periodic",
                             "measurand": "Current.Import", "phase": "L1", "unit": "A"}
                        ]}
                    ]}),
                )
                .await?;
                calls += 1;
            }
            calls = self.heartbeat_if_due(calls, p.heartbeat_every).await?;
            register += STEP_WH;
            let stopped = started + chrono::Duration::seconds(p.meter_values as i64 + 1);
            self.call(
                Action::StopTransaction,
                json!({"transactionId": tx_id, "meterStop": register, "idTag": ID_TAG,
                       "timestamp": stamp(stopped), "reason": "EVDisconnected"}),
            )
            .await?;
            calls += 1;
            self.log.transactions.push(ExpectedTransaction {
                id: tx_id,
                station_id: self.station_id.clone(),
                meter_start_wh: meter_start,
                last_meter_wh: (p.meter_values > 0).then_some(register - STEP_WH),
                meter_stop_wh: register,
            });
        }
        // Leave with a close frame, bounded: the server answers it, or we stop waiting.
        let _ = tokio::time::timeout(CONNECT_TIMEOUT, self.ws.close(None)).await;
        Ok(self.log)
    }

    /// Sends a Heartbeat after every `every` other calls.
    async fn heartbeat_if_due(&mut self, calls: usize, every: usize) -> Result<usize> {
        if calls > 0 && calls.is_multiple_of(every) {
            self.call(Action::Heartbeat, json!({})).await?;
            return Ok(calls + 1);
        }
        Ok(calls)
    }
}

/// Where the server stores its data for this run.
enum BenchDb {
    Sqlite {
        url: String,
        _dir: tempfile::TempDir,
    },
    Postgres {
        admin: DatabaseConnection,
        name: String,
        url: String,
        base: String,
    },
}

impl BenchDb {
    async fn create() -> Result<BenchDb> {
        match std::env::var("CPMS_BENCH_DATABASE_URL") {
            Err(_) => {
                let dir = tempfile::tempdir()?;
                let url = format!("sqlite://{}/cpms.db", dir.path().display());
                Ok(BenchDb::Sqlite { url, _dir: dir })
            }
            Ok(base) => {
                let mut options = sea_orm::ConnectOptions::new(base.clone());
                options.sqlx_logging(false);
                let admin = Database::connect(options)
                    .await
                    .context("CPMS_BENCH_DATABASE_URL is set but PostgreSQL is unreachable")?;
                let name = format!("cpms_bench_{}", uuid::Uuid::new_v4().simple());
                admin
                    .execute_unprepared(&format!("CREATE DATABASE {name}"))
                    .await?;
                let (before_query, query) = match base.split_once('?') {
                    Some((b, q)) => (b, format!("?{q}")),
                    None => (base.as_str(), String::new()),
                };
                let (server, _) = before_query
                    .rsplit_once('/')
                    .ok_or_else(|| anyhow!("database URL without a database name"))?;
                let url = format!("{server}/{name}{query}");
                Ok(BenchDb::Postgres {
                    admin,
                    name,
                    url,
                    base,
                })
            }
        }
    }

    fn url(&self) -> &str {
        match self {
            BenchDb::Sqlite { url, .. } | BenchDb::Postgres { url, .. } => url,
        }
    }

    fn base_url(&self) -> Option<&str> {
        match self {
            BenchDb::Sqlite { .. } => None,
            BenchDb::Postgres { base, .. } => Some(base),
        }
    }

    async fn drop_database(self) -> Result<()> {
        if let BenchDb::Postgres { admin, name, .. } = self {
            admin
                .execute_unprepared(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                .await?;
            admin.close().await?;
        }
        Ok(())
    }
}

/// The resident set size of this process in KiB (Linux `/proc/self/status`).
fn rss_kib() -> Option<u64> {
    proc_status_kib("VmRSS:")
}

/// The peak resident set size of this process in KiB.
fn peak_rss_kib() -> Option<u64> {
    proc_status_kib("VmHWM:")
}

fn proc_status_kib(field: &str) -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}

fn rss_text(kib: Option<u64>) -> String {
    kib.map(|k| format!("{:.1} MiB", k as f64 / 1024.0))
        .unwrap_or_else(|| "unknown".into())
}

/// Which database engine answered, with its version.
async fn describe_database(db: &DatabaseConnection, label: &str) -> String {
    let backend = db.get_database_backend();
    let sql = match backend {
        sea_orm::DatabaseBackend::Sqlite => "SELECT 'SQLite ' || sqlite_version() AS v",
        _ => "SELECT version() AS v",
    };
    let version = db
        .query_one(Statement::from_string(backend, sql))
        .await
        .ok()
        .flatten()
        .and_then(|row| row.try_get::<String>("", "v").ok())
        // PostgreSQL's version() goes on with the platform and compiler; the release is enough.
        .map(|v| v.split(" on ").next().unwrap_or_default().to_owned())
        .unwrap_or_else(|| "version unknown".into());
    format!("{label} ({version})")
}

/// Nearest-rank percentile of sorted values.
fn percentile(sorted: &[u32], p: f64) -> u32 {
    if sorted.is_empty() {
        return 0;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

fn ms(us: u32) -> String {
    format!("{:.2}", f64::from(us) / 1000.0)
}

fn latency_row(name: &str, values: &mut [u32]) -> String {
    values.sort_unstable();
    format!(
        "| {name:<18} | {:>8} | {:>8} | {:>8} | {:>8} | {:>8} |",
        values.len(),
        ms(percentile(values, 50.0)),
        ms(percentile(values, 95.0)),
        ms(percentile(values, 99.0)),
        ms(values.last().copied().unwrap_or(0)),
    )
}

/// Compares what the chargers ran with what the core stored; returns the problems found.
async fn verify(server: &Server, p: &Params, ran: &[ExpectedTransaction]) -> Result<Vec<String>> {
    let mut problems = Vec::new();
    let expected_total = (p.stations * p.transactions) as u64;
    let mut stored = HashMap::new();
    let mut offset = 0;
    loop {
        let (page, total) = server
            .core
            .transactions(&TransactionFilter::default(), offset, 1000)
            .await?;
        if offset == 0 && total != expected_total {
            problems.push(format!(
                "{total} transactions stored, {expected_total} expected"
            ));
        }
        if page.is_empty() {
            break;
        }
        offset += page.len() as u64;
        for t in page {
            stored.insert(i64::from(t.id), t);
        }
    }
    if ran.len() as u64 != expected_total {
        problems.push(format!(
            "the chargers completed {} transactions, {expected_total} expected",
            ran.len()
        ));
    }
    let expected_energy = STEP_WH * (p.meter_values as i64 + 1);
    for e in ran {
        let Some(t) = stored.get(&e.id) else {
            problems.push(format!(
                "transaction {} of {} not stored",
                e.id, e.station_id
            ));
            continue;
        };
        let want = |v: i64| v.to_string();
        let checks = [
            (t.station_id == e.station_id, "station"),
            (t.state == TransactionState::Stopped, "state"),
            (t.meter_start_wh == want(e.meter_start_wh), "meter_start_wh"),
            (
                t.meter_stop_wh.as_deref() == Some(want(e.meter_stop_wh).as_str()),
                "meter_stop_wh",
            ),
            (
                t.last_meter_wh == e.last_meter_wh.map(want),
                "last_meter_wh",
            ),
            (t.energy_wh == want(expected_energy), "energy_wh"),
        ];
        for (ok, field) in checks {
            if !ok && problems.len() < 20 {
                problems.push(format!(
                    "transaction {} of {}: wrong {field}: {t:?}",
                    e.id, e.station_id
                ));
            }
        }
    }
    let samples = cpms::entities::meter_sample::Entity::find()
        .filter(cpms::entities::meter_sample::Column::TransactionId.is_not_null())
        .count(server.core.db())
        .await?;
    let expected_samples = expected_total * p.meter_values as u64 * SAMPLES_PER_METER_VALUE;
    if samples != expected_samples {
        problems.push(format!(
            "{samples} meter samples stored with a transaction, {expected_samples} expected"
        ));
    }
    Ok(problems)
}

#[tokio::main]
async fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        .init();
    match run().await {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("ocpp_throughput: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// Runs the benchmark; `Ok(false)` when it ran but the result is not trustworthy.
async fn run() -> Result<bool> {
    let p = Params::parse()?;
    let db = BenchDb::create().await?;
    let mut settings = Settings::default();
    // Loopback only: the chargers and the server share this process.
    settings.ocpp.listen = "127.0.0.1:0".into();
    settings.http.listen = "127.0.0.1:0".into();
    settings.database.url = db.url().to_owned();
    settings.database.max_connections = p.max_connections;
    settings.ocpp.unknown_stations = UnknownStations::Accept;

    let result = measure(&p, &settings, &db).await;
    let dropped = db.drop_database().await;
    let ok = result?;
    dropped.context("dropping the benchmark database")?;
    Ok(ok)
}

async fn measure(p: &Params, settings: &Settings, db: &BenchDb) -> Result<bool> {
    let server = Server::start(settings).await?;
    let pool = server.core.db().clone();
    let outcome = drive(p, &server, db).await;
    server.shutdown();
    let stopped = tokio::time::timeout(SHUTDOWN_TIMEOUT, server.wait()).await;
    // The core keeps its pool after the server stops; close it so the database can be dropped.
    let _ = pool.close().await;
    let ok = outcome?;
    stopped
        .map_err(|_| anyhow!("server did not stop within {SHUTDOWN_TIMEOUT:?}"))?
        .context("server shutdown")?;
    Ok(ok)
}

async fn drive(p: &Params, server: &Server, db: &BenchDb) -> Result<bool> {
    let label = match db {
        // The directory shows where the file lives (TMPDIR decides; tmpfs makes fsync free).
        BenchDb::Sqlite { url, .. } => format!("SQLite, {url}, WAL, 1 pooled connection"),
        BenchDb::Postgres { name, .. } => format!(
            "PostgreSQL, fresh database {name}, pool of {} connections",
            p.max_connections
        ),
    };
    let database = describe_database(server.core.db(), &label).await;
    server
        .core
        .create_id_token(IdTokenRecord {
            id_token: ID_TAG.into(),
            status: IdTokenStatus::Accepted,
            expiry_date: None,
            group_id_token: None,
        })
        .await?;
    let rss_started = rss_kib();

    // Phase 1: open every websocket, all at once.
    let connect_started = Instant::now();
    let mut connecting = tokio::task::JoinSet::new();
    for i in 0..p.stations {
        let station_id = format!("BENCH-{i:05}");
        let url = format!("ws://{}/ocpp/{station_id}", server.ocpp_addr);
        connecting.spawn(async move { Charger::connect(&url, station_id).await });
    }
    let mut chargers = Vec::with_capacity(p.stations);
    let mut handshakes = Vec::with_capacity(p.stations);
    while let Some(joined) = connecting.join_next().await {
        let charger = joined??;
        handshakes.push(u32::try_from(charger.handshake.as_micros()).unwrap_or(u32::MAX));
        chargers.push(charger);
    }
    let connect_time = connect_started.elapsed();
    let rss_connected = rss_kib();

    // Phase 2: every charger runs its scenario as fast as the answers come.
    let base = Utc::now()
        - chrono::Duration::hours(1)
        - chrono::Duration::seconds(((p.meter_values + 2) * p.transactions) as i64);
    let run_started = Instant::now();
    let mut running = tokio::task::JoinSet::new();
    for charger in chargers {
        let params = p.clone();
        running.spawn(charger.run(params, base));
    }
    let mut logs = Vec::with_capacity(p.stations);
    let mut failures = Vec::new();
    let deadline = tokio::time::Instant::now() + p.timeout;
    loop {
        match tokio::time::timeout_at(deadline, running.join_next()).await {
            Ok(None) => break,
            Ok(Some(Ok(Ok(log)))) => logs.push(log),
            Ok(Some(Ok(Err(e)))) => failures.push(format!("{e:#}")),
            Ok(Some(Err(e))) => failures.push(format!("charger task: {e}")),
            Err(_) => {
                failures.push(format!(
                    "{} chargers still running after {:?}; aborted",
                    running.len(),
                    p.timeout
                ));
                running.shutdown().await;
                break;
            }
        }
    }
    let wall = run_started.elapsed();
    let rss_after = rss_kib();
    let rss_peak = peak_rss_kib();

    let mut per_action: [Vec<u32>; 6] = Default::default();
    let mut call_errors = Vec::new();
    let mut ran = Vec::new();
    for log in logs {
        for (all, mine) in per_action.iter_mut().zip(log.latencies) {
            all.extend(mine);
        }
        call_errors.extend(log.call_errors);
        ran.extend(log.transactions);
    }
    let messages: usize = per_action.iter().map(Vec::len).sum();
    let problems = verify(server, p, &ran).await?;

    let mut out = String::new();
    writeln!(
        out,
        "\n# OCPP 1.6J throughput (cpms/benches/ocpp_throughput.rs)\n"
    )?;
    writeln!(out, "command:      {}", p.command_line(db.base_url()))?;
    writeln!(out, "database:     {database}")?;
    writeln!(
        out,
        "stations:     {} (each: BootNotification, StatusNotification, {} x [StartTransaction, \
         {} MeterValues, StopTransaction], Heartbeat after every {} calls)",
        p.stations, p.transactions, p.meter_values, p.heartbeat_every
    )?;
    writeln!(
        out,
        "connect:      {} websockets in {:.3} s",
        p.stations,
        connect_time.as_secs_f64()
    )?;
    writeln!(out, "messages:     {messages} CALLs answered")?;
    writeln!(out, "wall time:    {:.3} s", wall.as_secs_f64())?;
    writeln!(
        out,
        "throughput:   {:.0} messages/s sustained (all CALLs / wall time of the message phase)",
        messages as f64 / wall.as_secs_f64()
    )?;
    writeln!(
        out,
        "RSS:          {} after start, {} with {} websockets open, {} after the run (sockets \
         closed), {} peak; server and chargers share this process",
        rss_text(rss_started),
        rss_text(rss_connected),
        p.stations,
        rss_text(rss_after),
        rss_text(rss_peak)
    )?;
    writeln!(out, "\nlatency, send to answer (ms):\n")?;
    writeln!(
        out,
        "| action             |    count |      p50 |      p95 |      p99 |      max |"
    )?;
    writeln!(
        out,
        "|--------------------|---------:|---------:|---------:|---------:|---------:|"
    )?;
    let mut overall = Vec::with_capacity(messages);
    for action in Action::ALL {
        let values = &mut per_action[action.index()];
        overall.extend_from_slice(values);
        writeln!(out, "{}", latency_row(action.name(), values))?;
    }
    writeln!(out, "{}", latency_row("all", &mut overall))?;
    writeln!(out, "{}", latency_row("(ws handshake)", &mut handshakes))?;
    writeln!(out)?;
    if call_errors.is_empty() {
        writeln!(out, "CALLERRORs:   0")?;
    } else {
        writeln!(
            out,
            "!!!!!!!! CALLERRORs: {} (must be 0) !!!!!!!!",
            call_errors.len()
        )?;
        for e in call_errors.iter().take(10) {
            writeln!(out, "  {e}")?;
        }
    }
    for f in failures.iter().take(10) {
        writeln!(out, "!!!!!!!! charger failed: {f}")?;
    }
    if problems.is_empty() {
        writeln!(
            out,
            "verified:     {} transactions Stopped with {} Wh each, {} meter samples",
            ran.len(),
            STEP_WH * (p.meter_values as i64 + 1),
            ran.len() as u64 * p.meter_values as u64 * SAMPLES_PER_METER_VALUE
        )?;
    } else {
        writeln!(
            out,
            "!!!!!!!! VERIFICATION FAILED: the stored data does not match !!!!!!!!"
        )?;
        for problem in &problems {
            writeln!(out, "  {problem}")?;
        }
    }
    println!("{out}");
    Ok(call_errors.is_empty() && failures.is_empty() && problems.is_empty())
}
