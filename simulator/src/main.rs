//! `simulator`: virtual OCPP chargers against a CSMS. See `simulator/README.md`.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, Result};
use clap::{Args, Parser, Subcommand};
use simulator::echo::EchoServer;
use simulator::fleet::{tls_config, Fleet, FleetOptions, ProtocolChoice};
use simulator::load::{self, LoadOptions};
use simulator::plan::{Behaviour, Mix, SessionPlan};
use simulator::report::Report;
use simulator::scenario::Scenario;

#[derive(Parser)]
#[command(
    name = "simulator",
    version,
    about = "Fleet of virtual OCPP 1.6J / 2.0.1 chargers"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Connect a fleet that boots, heartbeats, answers the CSMS and optionally charges, until
    /// Ctrl-C or --duration.
    Connect(ConnectArgs),
    /// Run a scenario file to completion.
    Run(RunArgs),
    /// Ramp up connections, hold them under a message mix, report throughput and latency.
    Load(LoadArgs),
    /// A bare websocket server answering every CALL at once (the ceiling for load runs).
    EchoServer {
        /// Listen address.
        #[arg(long, default_value = "127.0.0.1:9100")]
        listen: String,
        /// Heartbeat interval given in BootNotification answers (s).
        #[arg(long, default_value_t = 300)]
        heartbeat_interval: u32,
    },
}

#[derive(Args, Clone)]
struct Target {
    /// CSMS websocket base URL; the station id is appended.
    #[arg(long, env = "SIM_URL", default_value = "ws://127.0.0.1:9000/ocpp")]
    url: String,
    /// Basic-auth password of every station (user: the station id).
    #[arg(long, env = "SIM_PASSWORD")]
    password: Option<String>,
    /// PEM file of CAs to trust for wss:// besides the web PKI roots.
    #[arg(long)]
    ca_file: Option<PathBuf>,
}

impl Target {
    fn tls(&self) -> Result<Option<std::sync::Arc<rustls::ClientConfig>>> {
        if self.url.starts_with("wss://") || self.ca_file.is_some() {
            Ok(Some(tls_config(self.ca_file.as_deref())?))
        } else {
            Ok(None)
        }
    }
}

#[derive(Args, Clone)]
struct FleetArgs {
    #[command(flatten)]
    target: Target,
    /// Number of stations.
    #[arg(long, short = 'n', default_value_t = 1)]
    stations: u32,
    /// Station id pattern ({n} or {n:05}).
    #[arg(long, default_value = "SIM-{n:05}")]
    id_pattern: String,
    /// Number of the first station.
    #[arg(long, default_value_t = 1)]
    first: u32,
    /// EVSEs per station.
    #[arg(long, default_value_t = 1)]
    evses: u32,
    /// Connectors per EVSE.
    #[arg(long, default_value_t = 1)]
    connectors: u32,
    /// OCPP version(s).
    #[arg(long, value_enum, default_value = "ocpp1.6")]
    protocol: ProtocolChoice,
    /// New connections per second (0: all at once).
    #[arg(long, default_value_t = 100.0)]
    ramp: f64,
}

impl FleetArgs {
    fn options(&self, speed: f64) -> Result<FleetOptions> {
        Ok(FleetOptions {
            url: self.target.url.clone(),
            id_pattern: self.id_pattern.clone(),
            first: self.first,
            stations: self.stations,
            evses: self.evses,
            connectors_per_evse: self.connectors,
            protocol: self.protocol,
            password: self.target.password.clone(),
            tls: self.target.tls()?,
            ramp_per_s: self.ramp,
            speed,
        })
    }
}

#[derive(Args)]
struct ConnectArgs {
    #[command(flatten)]
    fleet: FleetArgs,
    /// Charging sessions per connector (0: only what the CSMS starts).
    #[arg(long, default_value_t = 0)]
    sessions: u32,
    /// Session length in simulated seconds.
    #[arg(long, default_value_t = 1800.0)]
    session_duration: f64,
    /// Simulated seconds between sessions.
    #[arg(long, default_value_t = 600.0)]
    session_gap: f64,
    /// Seconds between meter values.
    #[arg(long, default_value_t = 60)]
    meter_interval: u64,
    /// Id tokens presented, in turn.
    #[arg(long, value_delimiter = ',', default_value = "SIM-TOKEN-1")]
    id_tokens: Vec<String>,
    /// Simulated seconds per real second.
    #[arg(long, default_value_t = 1.0)]
    speed: f64,
    /// Stop after this many real seconds (default: until Ctrl-C).
    #[arg(long)]
    duration: Option<f64>,
    /// Print the report as JSON.
    #[arg(long)]
    json: bool,
}

#[derive(Args)]
struct RunArgs {
    /// Scenario file.
    #[arg(long)]
    scenario: PathBuf,
    #[command(flatten)]
    target: Target,
    /// Override the scenario's speed.
    #[arg(long)]
    speed: Option<f64>,
    /// Override the number of stations.
    #[arg(long)]
    stations: Option<u32>,
    /// Print the report as JSON.
    #[arg(long)]
    json: bool,
}

#[derive(Args)]
struct LoadArgs {
    #[command(flatten)]
    fleet: FleetArgs,
    /// Seconds to hold all connections after the ramp (the measured window).
    #[arg(long, default_value_t = 30.0)]
    hold: f64,
    /// Messages per second over the whole fleet (0: as fast as answers come).
    #[arg(long, default_value_t = 0.0)]
    rate: f64,
    /// Message mix, e.g. heartbeat=10,status=10,meter_values=70,authorize=5,transaction=5.
    #[arg(
        long,
        default_value = "heartbeat=10,status=10,meter_values=70,authorize=5,transaction=5"
    )]
    mix: String,
    /// Token for Authorize and transactions.
    #[arg(long, default_value = "SIM-TOKEN-1")]
    id_token: String,
    /// Extra seconds the ramp may take before the hold starts anyway.
    #[arg(long, default_value_t = 30.0)]
    ramp_grace: f64,
    /// Print the report as JSON (and no progress bar).
    #[arg(long)]
    json: bool,
}

fn print(report: &Report, json: bool) -> Result<()> {
    if json {
        println!("{}", serde_json::to_string_pretty(report)?);
    } else {
        print!("{}", report.render());
    }
    Ok(())
}

#[tokio::main]
async fn main() -> Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "warn".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    match cli.command {
        Command::Connect(args) => {
            let behaviour = Behaviour {
                meter_interval_s: args.meter_interval,
                sessions: SessionPlan {
                    per_connector: args.sessions,
                    duration_s: args.session_duration,
                    gap_s: args.session_gap,
                    id_tokens: args.id_tokens.clone(),
                    ..SessionPlan::default()
                },
                ..Behaviour::default()
            };
            let options = args.fleet.options(args.speed)?;
            let started = tokio::time::Instant::now();
            let fleet = Fleet::start(&options, &behaviour, None)?;
            match args.duration {
                Some(s) => tokio::time::sleep(Duration::from_secs_f64(s)).await,
                None => tokio::signal::ctrl_c()
                    .await
                    .context("waiting for Ctrl-C")?,
            }
            let answers = fleet
                .metrics
                .answers
                .load(std::sync::atomic::Ordering::Relaxed);
            let report = Report::collect(
                "connect",
                args.fleet.stations,
                &fleet.metrics,
                started.elapsed().as_secs_f64(),
                answers,
            );
            fleet.stop(Duration::from_secs(10)).await;
            print(&report, args.json)
        }
        Command::Run(args) => {
            let mut scenario = Scenario::load(&args.scenario)?;
            if let Some(speed) = args.speed {
                scenario.speed = speed;
            }
            if let Some(n) = args.stations {
                scenario.stations = n;
            }
            let outcome = scenario
                .run(
                    &args.target.url,
                    args.target.password.clone(),
                    args.target.tls()?,
                )
                .await?;
            print(&outcome.report, args.json)?;
            if !outcome.completed {
                anyhow::bail!(
                    "the scenario did not complete within {} s",
                    scenario.timeout_s
                );
            }
            Ok(())
        }
        Command::Load(args) => {
            let mix = Mix::parse(&args.mix).map_err(anyhow::Error::msg)?;
            let options = LoadOptions {
                fleet: args.fleet.options(1.0)?,
                hold_s: args.hold,
                rate: args.rate,
                mix,
                id_token: args.id_token.clone(),
                ramp_grace_s: args.ramp_grace,
                progress: !args.json,
            };
            let report = load::run(&options).await?;
            print(&report, args.json)
        }
        Command::EchoServer {
            listen,
            heartbeat_interval,
        } => {
            let server = EchoServer::start(&listen, heartbeat_interval).await?;
            eprintln!("echo server on ws://{}/ocpp (Ctrl-C stops)", server.addr);
            tokio::signal::ctrl_c().await?;
            server.stop();
            Ok(())
        }
    }
}
