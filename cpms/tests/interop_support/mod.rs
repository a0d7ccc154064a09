//! What the interop tests share: the Python that runs the third-party charger, the real `cpms`
//! binary started as a child process on free loopback ports, and an operator-API client.
#![allow(dead_code)]

use std::fs::File;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use anyhow::{bail, ensure, Context, Result};
use reqwest::StatusCode;
use serde_json::{json, Value};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};
use tokio::time::{sleep, timeout, Instant};

/// How long the server may take to answer `/health`.
pub const STARTUP_LIMIT: Duration = Duration::from_secs(20);

/// The server's log file in the test's temp dir, printed when the test fails.
pub const SERVER_LOG: &str = "cpms.log";

/// The Python to run the charger with, or `None` when the test is to be skipped.
pub fn python() -> Option<PathBuf> {
    if let Some(python) = std::env::var_os("CPMS_TEST_PYTHON").filter(|p| !p.is_empty()) {
        return Some(PathBuf::from(python));
    }
    let venv = Path::new(env!("CARGO_MANIFEST_DIR")).join("../.venv/bin/python");
    let usable = venv.exists()
        && std::process::Command::new(&venv)
            .args(["-c", "import ocpp, websockets"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|status| status.success());
    usable.then_some(venv)
}

pub struct Server {
    _child: Child,
    pub ocpp_port: u16,
    pub http_port: u16,
    pub env: Vec<(String, String)>,
    pub dir: PathBuf,
}

impl Server {
    pub async fn start(dir: &Path) -> Result<Self> {
        let (ocpp_port, http_port) = (free_port()?, free_port()?);
        let env = vec![
            (
                "CPMS__OCPP__LISTEN".to_owned(),
                format!("127.0.0.1:{ocpp_port}"),
            ),
            (
                "CPMS__HTTP__LISTEN".to_owned(),
                format!("127.0.0.1:{http_port}"),
            ),
            (
                "CPMS__DATABASE__URL".to_owned(),
                format!("sqlite://{}/cpms.db?mode=rwc", dir.display()),
            ),
            ("RUST_LOG".to_owned(), "info".to_owned()),
        ];
        let log = log_file(&dir.join(SERVER_LOG))?;
        let mut child = cpms(&env, dir)
            .stdout(log.try_clone()?)
            .stderr(log)
            .kill_on_drop(true)
            .spawn()
            .context("spawning cpms")?;

        let client = http_client()?;
        let health = format!("http://127.0.0.1:{http_port}/health");
        let deadline = Instant::now() + STARTUP_LIMIT;
        loop {
            if let Some(status) = child.try_wait()? {
                bail!("cpms exited during start-up: {status}");
            }
            if let Ok(response) = client.get(&health).send().await {
                if response.status() == StatusCode::OK {
                    break;
                }
            }
            ensure!(
                Instant::now() < deadline,
                "GET /health not 200 within {STARTUP_LIMIT:?}"
            );
            // Polling the readiness endpoint: there is no event to wait on across processes.
            sleep(Duration::from_millis(100)).await;
        }

        Ok(Self {
            _child: child,
            ocpp_port,
            http_port,
            env,
            dir: dir.to_owned(),
        })
    }

    /// An operator API client holding a token from `cpms admin-token`, run with the server's config.
    pub async fn api(&self) -> Result<Api> {
        let output = timeout(
            STARTUP_LIMIT,
            cpms(&self.env, &self.dir)
                .arg("admin-token")
                .stdin(Stdio::null())
                .output(),
        )
        .await
        .context("cpms admin-token did not finish")?
        .context("running cpms admin-token")?;
        ensure!(
            output.status.success(),
            "cpms admin-token exited with {}: {}",
            output.status,
            String::from_utf8_lossy(&output.stderr)
        );
        let token = String::from_utf8(output.stdout)?
            .lines()
            .next()
            .map(|line| line.trim().to_owned())
            .filter(|line| !line.is_empty())
            .context("cpms admin-token printed no token")?;
        Ok(Api {
            client: http_client()?,
            base: format!("http://127.0.0.1:{}", self.http_port),
            token,
        })
    }
}

/// The `cpms` binary with the test's configuration and nothing inherited from a `CPMS__` setting.
pub fn cpms(env: &[(String, String)], dir: &Path) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_cpms"));
    for (key, _) in std::env::vars_os() {
        if key.to_string_lossy().starts_with("CPMS__") {
            command.env_remove(key);
        }
    }
    command
        .envs(env.iter().map(|(k, v)| (k, v)))
        .current_dir(dir);
    command
}

/// The operator HTTP API, authenticated as an operator.
pub struct Api {
    pub client: reqwest::Client,
    pub base: String,
    pub token: String,
}

impl Api {
    pub async fn post(&self, path: &str, body: &Value) -> Result<(StatusCode, Value)> {
        let request = self.client.post(format!("{}{path}", self.base)).json(body);
        self.send(request, path).await
    }

    pub async fn delete(&self, path: &str) -> Result<(StatusCode, Value)> {
        let request = self.client.delete(format!("{}{path}", self.base));
        self.send(request, path).await
    }

    /// GET that must answer 200 with a JSON body.
    pub async fn get_ok(&self, path: &str) -> Result<Value> {
        let request = self.client.get(format!("{}{path}", self.base));
        let (status, body) = self.send(request, path).await?;
        ensure!(
            status == StatusCode::OK,
            "GET {path}: expected 200, got {status} {body}"
        );
        Ok(body)
    }

    pub async fn send(
        &self,
        request: reqwest::RequestBuilder,
        path: &str,
    ) -> Result<(StatusCode, Value)> {
        let response = request
            .bearer_auth(&self.token)
            .send()
            .await
            .with_context(|| format!("{path}: request failed"))?;
        let status = response.status();
        let text = response.text().await?;
        let body = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or(Value::String(text))
        };
        Ok((status, body))
    }
}

pub fn http_client() -> Result<reqwest::Client> {
    // Loopback only: a proxy from the environment must not see these requests.
    Ok(reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(10))
        .build()?)
}

/// A port that was free a moment ago; the server binds it right after.
pub fn free_port() -> Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

pub fn log_file(path: &Path) -> Result<File> {
    File::create(path).with_context(|| format!("creating {}", path.display()))
}

pub fn read_log(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| format!("({}: {e})", path.display()))
}

/// Local list, reservation, firmware and diagnostics commands: the `ocpp` package checks each
/// request against the official schema of the station's OCPP version before it accepts it, so a
/// 200 with the station's answer means our payload is valid.
pub async fn schema_checked_commands(api: &Api, station_id: &str, id_token: &str) -> Result<()> {
    let station = format!("/api/stations/{station_id}");
    let calls = [
        (
            format!("{station}/local-list"),
            json!({"update_type": "Full"}),
        ),
        (
            format!("{station}/local-list"),
            json!({"update_type": "Differential", "entries": [
                {"id_token": "INTEROP-2", "status": "Blocked", "expiry_date": "2030-01-01T00:00:00Z",
                 "group_id_token": id_token},
                {"id_token": id_token},
            ]}),
        ),
        (
            format!("{station}/commands/get-local-list-version"),
            json!({}),
        ),
        (
            format!("{station}/commands/reserve-now"),
            json!({"reservation_id": 5, "evse_id": 1, "id_token": id_token,
                   "expiry_date": "2030-01-01T00:00:00Z"}),
        ),
        (
            format!("{station}/commands/cancel-reservation"),
            json!({"reservation_id": 5}),
        ),
        (
            format!("{station}/commands/update-firmware"),
            json!({"location": "https://fw.example.com/fw.bin",
                   "retrieve_date": "2030-01-01T00:00:00Z", "retries": 2, "retry_interval": 30}),
        ),
        (
            format!("{station}/commands/get-diagnostics"),
            json!({"location": "ftp://logs.example.com/", "start_time": "2029-01-01T00:00:00Z"}),
        ),
    ];
    for (path, body) in calls {
        let (status, answer) = api.post(&path, &body).await?;
        ensure!(
            status == StatusCode::OK,
            "POST {path} {body}: expected 200, got {status} {answer}"
        );
        ensure!(
            answer.get("status").is_none_or(|s| s == "Accepted"),
            "POST {path} {body}: the station did not accept: {answer}"
        );
    }
    let list = api.get_ok(&format!("{station}/local-list")).await?;
    ensure!(
        list["list_version"] == 2,
        "local list version should be 2: {list}"
    );
    Ok(())
}

/// A TxDefaultProfile with two periods on EVSE 1 (limits in steps of 0.1, as 1.6 wants).
fn tx_default_profile() -> Value {
    json!({"id": 11, "purpose": "TxDefaultProfile", "stack_level": 0, "kind": "Relative",
        "schedule": {"charging_rate_unit": "A", "min_charging_rate": 6.5,
            "periods": [{"start_period": 0, "limit": 16},
                        {"start_period": 1800, "limit": 10.5, "number_phases": 3}]}})
}

/// A Recurring Daily station maximum on EVSE 0, with its start and validity window.
fn daily_max_profile() -> Value {
    json!({"id": 12, "purpose": "ChargingStationMaxProfile", "stack_level": 1, "kind": "Recurring",
        "recurrency": "Daily", "valid_from": "2025-01-01T00:00:00Z",
        "valid_to": "2035-01-01T00:00:00Z",
        "schedule": {"start_schedule": "2025-03-01T22:00:00Z", "duration": 86400,
            "charging_rate_unit": "W",
            "periods": [{"start_period": 0, "limit": 22000},
                        {"start_period": 28800, "limit": 11000.5, "number_phases": 1}]}})
}

/// Smart charging as an operator does it: install two profiles, list them, read the composite
/// schedule the station builds from the EVSE 1 profile, clear both. The `ocpp` package checks
/// SetChargingProfile, ClearChargingProfile and GetCompositeSchedule against the schemas of the
/// station's version, so an Accepted answer means our payloads are valid.
pub async fn smart_charging(api: &Api, station_id: &str) -> Result<()> {
    let path = format!("/api/stations/{station_id}/charging-profiles");
    let installed = [(1, tx_default_profile()), (0, daily_max_profile())];
    for (evse_id, profile) in &installed {
        let body = json!({"evse_id": evse_id, "profile": profile});
        let (status, answer) = api.post(&path, &body).await?;
        ensure!(
            status == StatusCode::CREATED
                && answer["status"] == "Accepted"
                && answer["installed"]["evse_id"] == *evse_id
                && answer["installed"]["profile"] == *profile
                && answer["installed"]["installed_at"].is_string(),
            "POST {path} {body}: expected 201 with the installed profile, got {status} {answer}"
        );
    }
    ensure_profiles(api, station_id, &installed).await?;

    let composite = format!("/api/stations/{station_id}/commands/get-composite-schedule");
    let (status, answer) = api
        .post(&composite, &json!({"evse_id": 1, "duration": 3600}))
        .await?;
    let start = &answer["composite"]["schedule_start"];
    ensure!(
        status == StatusCode::OK && start.is_string(),
        "POST {composite}: expected 200 with a composite schedule, got {status} {answer}"
    );
    // The station's composite is the EVSE 1 profile cut to the hour asked for (2.0.1 has no
    // minChargingRate in a composite schedule, and the 1.6 test charger sends none).
    let expected = json!({"status": "Accepted", "composite": {"evse_id": 1,
        "schedule_start": start, "schedule": {"duration": 3600, "start_schedule": start,
            "charging_rate_unit": "A",
            "periods": tx_default_profile()["schedule"]["periods"]}}});
    ensure!(
        answer == expected,
        "POST {composite}: expected {expected}, got {answer}"
    );

    let (status, answer) = api.delete(&format!("{path}/12")).await?;
    ensure!(
        status == StatusCode::OK && answer == json!({"status": "Accepted", "removed": 1}),
        "DELETE {path}/12: expected 200 with 1 removed, got {status} {answer}"
    );
    ensure_profiles(api, station_id, &installed[..1]).await?;
    let (status, answer) = api.delete(&format!("{path}/11")).await?;
    ensure!(
        status == StatusCode::OK && answer == json!({"status": "Accepted", "removed": 1}),
        "DELETE {path}/11: expected 200 with 1 removed, got {status} {answer}"
    );
    ensure_profiles(api, station_id, &[]).await
}

/// The CPMS lists exactly `expected` (evse id, profile) as installed, in any order.
async fn ensure_profiles(api: &Api, station_id: &str, expected: &[(i32, Value)]) -> Result<()> {
    let list = api
        .get_ok(&format!("/api/stations/{station_id}/charging-profiles"))
        .await?;
    let items = list["items"]
        .as_array()
        .with_context(|| format!("charging-profiles items should be an array: {list}"))?;
    ensure!(
        items.len() == expected.len()
            && expected.iter().all(|(evse_id, profile)| items
                .iter()
                .any(|i| i["evse_id"] == *evse_id && i["profile"] == *profile)),
        "charging-profiles should list {expected:?}: {list}"
    );
    Ok(())
}

/// How long a whole charger flow may take, from spawn to exit.
pub const FLOW_LIMIT: Duration = Duration::from_secs(60);
/// The charger's own overall limit: below [`FLOW_LIMIT`], so that it reports where it got stuck.
pub const CHARGER_LIMIT_SECS: &str = "50";

/// Fails clearly when `python` cannot import the charger's packages.
pub async fn check_python(python: &Path) -> Result<()> {
    let check = Command::new(python)
        .args(["-c", "import ocpp, websockets; print(ocpp.__file__)"])
        .output()
        .await
        .with_context(|| format!("running {}", python.display()))?;
    ensure!(
        check.status.success(),
        "{} cannot import ocpp and websockets (pip install -r tests/interop/requirements.txt): {}",
        python.display(),
        String::from_utf8_lossy(&check.stderr)
    );
    Ok(())
}

/// Puts `id_token` on the operator's authorization list.
pub async fn accept_token(api: &Api, id_token: &str) -> Result<()> {
    let created = api
        .post(
            "/api/id-tokens",
            &json!({"id_token": id_token, "status": "Accepted"}),
        )
        .await?;
    ensure!(
        created.0 == StatusCode::CREATED,
        "POST /api/id-tokens: expected 201, got {} {}",
        created.0,
        created.1
    );
    Ok(())
}

/// One run of a charger script against the server.
pub struct ChargerRun<'a> {
    /// The Python that runs it.
    pub python: &'a Path,
    /// The test's temp dir, where the charger's stderr goes to `log`.
    pub dir: &'a Path,
    /// The script.
    pub script: &'a str,
    /// The station id it connects as.
    pub station_id: &'a str,
    /// The id token it charges with.
    pub id_token: &'a str,
    /// File name of its stderr log in `dir`.
    pub log: &'a str,
}

impl ChargerRun<'_> {
    /// Runs the script to its end; once it prints `READY`, runs `on_ready` (the operator's part),
    /// and expects `DONE` and a clean exit, all within [`FLOW_LIMIT`].
    pub async fn run(
        &self,
        server: &Server,
        on_ready: impl AsyncFnOnce() -> Result<()>,
    ) -> Result<()> {
        let url = format!(
            "ws://127.0.0.1:{}/ocpp/{}",
            server.ocpp_port, self.station_id
        );
        let mut charger = Command::new(self.python)
            .arg(self.script)
            .args(["--url", &url, "--id-token", self.id_token])
            .args(["--timeout", CHARGER_LIMIT_SECS])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(log_file(&self.dir.join(self.log))?)
            .kill_on_drop(true)
            .spawn()
            .with_context(|| format!("spawning {} {}", self.python.display(), self.script))?;
        let stdout = charger.stdout.take().context("charger stdout")?;

        let flow = async {
            let mut lines = BufReader::new(stdout).lines();
            let (mut on_ready, mut done) = (Some(on_ready), false);
            while let Some(line) = lines.next_line().await? {
                match line.trim() {
                    "READY" => {
                        if let Some(step) = on_ready.take() {
                            step().await?;
                        }
                    }
                    "DONE" => done = true,
                    _ => {}
                }
            }
            let status = charger.wait().await?;
            ensure!(
                on_ready.is_none(),
                "charger exited ({status}) before printing READY"
            );
            ensure!(done, "charger exited ({status}) without printing DONE");
            ensure!(
                status.success(),
                "charger printed DONE but exited with {status}"
            );
            Ok::<_, anyhow::Error>(())
        };
        timeout(FLOW_LIMIT, flow)
            .await
            .with_context(|| format!("charger flow not finished within {FLOW_LIMIT:?}"))?
    }
}
