//! Interop with a charging-station library we did not write: the `ocpp` package from PyPI (2.1.0),
//! which validates every message it sends and receives against the official OCPP 2.0.1 JSON
//! schemas, runs `tests/interop/charger201.py` as a 2.0.1 station against the real `cpms` binary:
//! a full TransactionEvent session, then smart charging (SetChargingProfile, GetCompositeSchedule,
//! ClearChargingProfile), a RequestStartTransaction and a GetVariables sent through the operator
//! API.
//!
//! Needs a Python with `tests/interop/requirements.txt` installed: the one named by
//! `CPMS_TEST_PYTHON` (then every failure to use it fails the test), else `<workspace>/.venv`'s if it
//! can import `ocpp`; with neither the test reports itself skipped, so `cargo test` passes on a
//! machine without Python packages.

mod interop_support;

use std::path::Path;
use std::str::FromStr;

use anyhow::{bail, ensure, Context, Result};
use interop_support::*;
use reqwest::StatusCode;
use rust_decimal::Decimal;
use serde_json::{json, Value};

const CHARGER_SCRIPT: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../tests/interop/charger201.py"
);
const STATION_ID: &str = "PYCS201";
const ID_TOKEN: &str = "INTEROP201";
/// The vendorName that charger201.py sends in its BootNotification.
const CHARGER_VENDOR: &str = "InteropPy201";

/// Files in the test's temp dir, printed when the test fails.
const CHARGER_LOG: &str = "charger201.stderr";

#[tokio::test]
async fn ocpp_python_2_0_1_station_runs_transaction_events_and_answers_the_operator() {
    let Some(python) = python() else {
        eprintln!("skipped: set CPMS_TEST_PYTHON to a python with the ocpp package (see README)");
        return;
    };
    let dir = tempfile::tempdir().expect("temp dir");
    if let Err(error) = interop(&python, dir.path()).await {
        panic!(
            "{error:#}\n--- charger201.py stderr ---\n{}\n--- cpms log ---\n{}",
            read_log(&dir.path().join(CHARGER_LOG)),
            read_log(&dir.path().join(SERVER_LOG)),
        );
    }
}

async fn interop(python: &Path, dir: &Path) -> Result<()> {
    check_python(python).await?;
    let server = Server::start(dir).await?;
    let api = server.api().await?;

    accept_token(&api, ID_TOKEN).await?;

    run_charger(python, dir, &server, &api).await?;
    check_station(&api).await?;
    check_transactions(&api).await
}

/// Runs the charger to its end; once it reports `READY`, the operator's part: the schema-checked
/// commands, smart charging, reading a variable and a remote start.
async fn run_charger(python: &Path, dir: &Path, server: &Server, api: &Api) -> Result<()> {
    let run = ChargerRun {
        python,
        dir,
        script: CHARGER_SCRIPT,
        station_id: STATION_ID,
        id_token: ID_TOKEN,
        log: CHARGER_LOG,
    };
    run.run(server, async || {
        schema_checked_commands(api, STATION_ID, ID_TOKEN).await?;
        smart_charging(api, STATION_ID).await?;
        // Before remote-start: the station leaves once that session and GetVariables are done.
        get_variables(api).await?;
        remote_start(api).await
    })
    .await
}

/// Operator remote start on the station's EVSE 1; the CPMS answers with the station's verdict and
/// the remoteStartId it generated.
async fn remote_start(api: &Api) -> Result<()> {
    let (status, body) = api
        .post(
            &format!("/api/stations/{STATION_ID}/commands/remote-start"),
            &json!({"id_token": ID_TOKEN, "evse_id": 1}),
        )
        .await?;
    ensure!(
        status == StatusCode::OK && body["status"] == "Accepted" && body["remote_start_id"].is_i64(),
        "remote-start: expected 200 {{\"status\":\"Accepted\", \"remote_start_id\": N}}, got {status} {body}"
    );
    Ok(())
}

/// Operator GetVariables: the station's own value comes back through the API.
async fn get_variables(api: &Api) -> Result<()> {
    let (status, body) = api
        .post(
            &format!("/api/stations/{STATION_ID}/commands/get-variables"),
            &json!({"variables": [
                {"component": "OCPPCommCtrlr", "variable": "HeartbeatInterval"},
                {"component": "OCPPCommCtrlr", "variable": "NoSuchVariable"}
            ]}),
        )
        .await?;
    ensure!(
        status == StatusCode::OK
            && body["results"][0]["attribute_status"] == "Accepted"
            && body["results"][0]["value"] == "300"
            && body["results"][1]["attribute_status"] == "UnknownVariable",
        "get-variables: expected HeartbeatInterval 300 and one UnknownVariable, got {status} {body}"
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
    // The station's own transaction ids are kept beside ours.
    for station_tx in ["LOCAL-1", "REMOTE-1"] {
        ensure!(
            items
                .iter()
                .any(|t| t["station_transaction_id"] == station_tx),
            "no transaction with station_transaction_id {station_tx}: {list}"
        );
    }

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
    // Start and end registers, plus the three sampled values of the Updated event.
    ensure!(
        samples.len() >= 5,
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
