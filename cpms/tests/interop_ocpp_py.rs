//! Interop with a charger library we did not write: the `ocpp` package from PyPI (2.1.0), which
//! validates every message it sends and receives against the official OCPP 1.6 JSON schemas, runs
//! `tests/interop/charger16.py` as a charge point against the real `cpms` binary.
//!
//! Needs a Python with `tests/interop/requirements.txt` installed: the one named by
//! `CPMS_TEST_PYTHON` (then every failure to use it fails the test), else `<workspace>/.venv`'s if it
//! can import `ocpp`; with neither the test reports itself skipped, so `cargo test` passes on a
//! machine without Python packages.

mod interop_support;

use std::path::Path;
use std::process::Stdio;
use std::str::FromStr;
use std::time::Duration;

use anyhow::{bail, ensure, Context, Result};
use interop_support::*;
use reqwest::StatusCode;
use rust_decimal::Decimal;
use serde_json::{json, Value};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::Command;
use tokio::time::timeout;

const CHARGER_SCRIPT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/interop/charger16.py");
const STATION_ID: &str = "PYCP01";
const ID_TOKEN: &str = "INTEROP1";
/// The chargePointVendor that charger16.py sends in its BootNotification.
const CHARGER_VENDOR: &str = "InteropPy";

/// How long the whole charger flow may take, from spawn to exit.
const FLOW_LIMIT: Duration = Duration::from_secs(60);
/// The charger's own overall limit: below FLOW_LIMIT, so that it reports where it got stuck.
const CHARGER_LIMIT_SECS: &str = "50";

/// Files in the test's temp dir, printed when the test fails.
const CHARGER_LOG: &str = "charger16.stderr";

#[tokio::test]
async fn ocpp_python_charge_point_runs_local_and_remote_sessions_against_cpms() {
    let Some(python) = python() else {
        eprintln!("skipped: set CPMS_TEST_PYTHON to a python with the ocpp package (see README)");
        return;
    };
    let dir = tempfile::tempdir().expect("temp dir");
    if let Err(error) = interop(&python, dir.path()).await {
        panic!(
            "{error:#}\n--- charger16.py stderr ---\n{}\n--- cpms log ---\n{}",
            read_log(&dir.path().join(CHARGER_LOG)),
            read_log(&dir.path().join(SERVER_LOG)),
        );
    }
}

async fn interop(python: &Path, dir: &Path) -> Result<()> {
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

    let server = Server::start(dir).await?;
    let api = server.api().await?;

    let created = api
        .post(
            "/api/id-tokens",
            &json!({"id_token": ID_TOKEN, "status": "Accepted"}),
        )
        .await?;
    ensure!(
        created.0 == StatusCode::CREATED,
        "POST /api/id-tokens: expected 201, got {} {}",
        created.0,
        created.1
    );

    run_charger(python, dir, &server, &api).await?;
    check_station(&api).await?;
    check_transactions(&api).await
}

/// Runs charger16.py to its end, asking for a remote start once it reports `READY`.
async fn run_charger(python: &Path, dir: &Path, server: &Server, api: &Api) -> Result<()> {
    let url = format!("ws://127.0.0.1:{}/ocpp/{STATION_ID}", server.ocpp_port);
    let mut charger = Command::new(python)
        .arg(CHARGER_SCRIPT)
        .args(["--url", &url, "--id-token", ID_TOKEN])
        .args(["--timeout", CHARGER_LIMIT_SECS])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(log_file(&dir.join(CHARGER_LOG))?)
        .kill_on_drop(true)
        .spawn()
        .with_context(|| format!("spawning {} {CHARGER_SCRIPT}", python.display()))?;
    let stdout = charger.stdout.take().context("charger stdout")?;

    let flow = async {
        let mut lines = BufReader::new(stdout).lines();
        let (mut ready, mut done) = (false, false);
        while let Some(line) = lines.next_line().await? {
            match line.trim() {
                "READY" => {
                    ready = true;
                    schema_checked_commands(api).await?;
                    smart_charging(api).await?;
                    remote_start(api).await?;
                }
                "DONE" => done = true,
                _ => {}
            }
        }
        let status = charger.wait().await?;
        ensure!(ready, "charger exited ({status}) before printing READY");
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

/// Local list, reservation, firmware and diagnostics commands: the `ocpp` package checks each
/// request against the official 1.6 schema before the charger accepts it, so a 200 with the
/// charger's answer means our payload is valid.
async fn schema_checked_commands(api: &Api) -> Result<()> {
    let station = format!("/api/stations/{STATION_ID}");
    let calls = [
        (
            format!("{station}/local-list"),
            json!({"update_type": "Full"}),
        ),
        (
            format!("{station}/local-list"),
            json!({"update_type": "Differential", "entries": [
                {"id_token": "INTEROP-2", "status": "Blocked", "expiry_date": "2030-01-01T00:00:00Z",
                 "group_id_token": ID_TOKEN},
                {"id_token": ID_TOKEN},
            ]}),
        ),
        (
            format!("{station}/commands/get-local-list-version"),
            json!({}),
        ),
        (
            format!("{station}/commands/reserve-now"),
            json!({"reservation_id": 5, "evse_id": 1, "id_token": ID_TOKEN,
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
            "POST {path} {body}: the charger did not accept: {answer}"
        );
    }
    let list = api.get_ok(&format!("{station}/local-list")).await?;
    ensure!(
        list["list_version"] == 2,
        "local list version should be 2: {list}"
    );
    Ok(())
}

/// A TxDefaultProfile with two periods on connector 1 (limits in steps of 0.1, as 1.6 wants).
fn tx_default_profile() -> Value {
    json!({"id": 11, "purpose": "TxDefaultProfile", "stack_level": 0, "kind": "Relative",
        "schedule": {"charging_rate_unit": "A", "min_charging_rate": 6.5,
            "periods": [{"start_period": 0, "limit": 16},
                        {"start_period": 1800, "limit": 10.5, "number_phases": 3}]}})
}

/// A Recurring Daily station maximum on connector 0, with its start and validity window.
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
/// schedule the charger builds from the connector 1 profile, clear both. The `ocpp` package checks
/// SetChargingProfile, ClearChargingProfile and GetCompositeSchedule against the 1.6 schemas, so an
/// Accepted answer means our payloads are valid.
async fn smart_charging(api: &Api) -> Result<()> {
    let path = format!("/api/stations/{STATION_ID}/charging-profiles");
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
    ensure_profiles(api, &installed).await?;

    let composite = format!("/api/stations/{STATION_ID}/commands/get-composite-schedule");
    let (status, answer) = api
        .post(&composite, &json!({"evse_id": 1, "duration": 3600}))
        .await?;
    let start = &answer["composite"]["schedule_start"];
    ensure!(
        status == StatusCode::OK && start.is_string(),
        "POST {composite}: expected 200 with a composite schedule, got {status} {answer}"
    );
    // The charger's composite is the connector 1 profile cut to the hour asked for.
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
    ensure_profiles(api, &installed[..1]).await?;
    let (status, answer) = api.delete(&format!("{path}/11")).await?;
    ensure!(
        status == StatusCode::OK && answer == json!({"status": "Accepted", "removed": 1}),
        "DELETE {path}/11: expected 200 with 1 removed, got {status} {answer}"
    );
    ensure_profiles(api, &[]).await
}

/// The CPMS lists exactly `expected` (evse id, profile) as installed, in any order.
async fn ensure_profiles(api: &Api, expected: &[(i32, Value)]) -> Result<()> {
    let list = api
        .get_ok(&format!("/api/stations/{STATION_ID}/charging-profiles"))
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

/// Operator remote start on the charger's connector 1; the CPMS answers with the charger's verdict.
async fn remote_start(api: &Api) -> Result<()> {
    let (status, body) = api
        .post(
            &format!("/api/stations/{STATION_ID}/commands/remote-start"),
            &json!({"id_token": ID_TOKEN, "evse_id": 1}),
        )
        .await?;
    ensure!(
        status == StatusCode::OK && body["status"] == "Accepted",
        "remote-start: expected 200 {{\"status\":\"Accepted\"}}, got {status} {body}"
    );
    Ok(())
}

/// The station as the charger described it, with connector 1 back to Available.
async fn check_station(api: &Api) -> Result<()> {
    let station = api.get_ok(&format!("/api/stations/{STATION_ID}")).await?;
    ensure!(
        station["vendor"] == CHARGER_VENDOR,
        "station vendor should be {CHARGER_VENDOR}: {station}"
    );
    let connectors = station["connectors"]
        .as_array()
        .with_context(|| format!("station connectors should be an array: {station}"))?;
    ensure!(
        connectors
            .iter()
            .any(|c| c["evse_id"] == json!(1) && c["status"] == "Available"),
        "connector on evse 1 should be Available: {station}"
    );
    Ok(())
}

/// Both sessions stopped, the local one with its meter readings and every sampled value kept.
async fn check_transactions(api: &Api) -> Result<()> {
    let list = api
        .get_ok(&format!("/api/transactions?station_id={STATION_ID}"))
        .await?;
    ensure!(list["total"] == json!(2), "expected total 2: {list}");
    let items = list["items"]
        .as_array()
        .with_context(|| format!("items should be an array: {list}"))?;
    ensure!(items.len() == 2, "expected 2 items: {list}");
    ensure!(
        items.iter().all(|t| t["state"] == "Stopped"),
        "both transactions should be Stopped: {list}"
    );

    // The listing order is not part of the contract: tell the sessions apart by their meterStart.
    let local = items
        .iter()
        .find(|t| wh(&t["meter_start_wh"]).ok() == Some(Decimal::from(1000)))
        .with_context(|| format!("no transaction with meter_start_wh 1000: {list}"))?;
    ensure!(
        wh(&local["meter_stop_wh"])? == Decimal::from(4000)
            && wh(&local["energy_wh"])? == Decimal::from(3000),
        "local session should have meter_stop_wh 4000 and energy_wh 3000: {local}"
    );
    let remote = items
        .iter()
        .find(|t| !std::ptr::eq(*t, local))
        .context("second transaction")?;
    ensure!(
        wh(&remote["meter_start_wh"])? == Decimal::from(4000)
            && wh(&remote["meter_stop_wh"])? == Decimal::from(5200)
            && wh(&remote["energy_wh"])? == Decimal::from(1200),
        "remote session should run from 4000 to 5200 Wh: {remote}"
    );

    let id = match &local["id"] {
        Value::String(id) => id.clone(),
        Value::Number(id) => id.to_string(),
        other => bail!("transaction id should be a string or a number, got {other}"),
    };
    let detail = api.get_ok(&format!("/api/transactions/{id}")).await?;
    let samples = detail["meter_samples"]
        .as_array()
        .with_context(|| format!("meter_samples should be an array: {detail}"))?;
    // Three sampled values from MeterValues and one from StopTransaction.transactionData.
    ensure!(
        samples.len() >= 4,
        "expected at least 4 meter samples: {detail}"
    );
    for sample in samples {
        for field in ["measurand", "value", "unit"] {
            ensure!(
                !sample[field].is_null(),
                "meter sample without {field}: {sample}"
            );
        }
    }
    for measurand in [
        "Energy.Active.Import.Register",
        "Power.Active.Import",
        "Current.Import",
    ] {
        ensure!(
            samples.iter().any(|s| s["measurand"] == measurand),
            "no {measurand} sample kept: {detail}"
        );
    }
    Ok(())
}

/// An energy figure in Wh: the API writes decimals as JSON strings.
fn wh(value: &Value) -> Result<Decimal> {
    let text = value
        .as_str()
        .with_context(|| format!("expected a decimal string, got {value}"))?;
    Decimal::from_str(text).with_context(|| format!("not a decimal: {text:?}"))
}
