//! The `cpms` binary: `cpms` (or `cpms serve`) runs the whole system; `cpms admin-token` prints an
//! operator-API bearer token.

use std::path::PathBuf;

use anyhow::Context;
use clap::{Parser, Subcommand};
use cpms::config::{LogFormat, Settings};
use cpms::{db, secrets, Server};
use tracing_subscriber::EnvFilter;

#[derive(Parser)]
#[command(
    name = "cpms",
    version,
    about = "Charge point management system: OCPP 1.6J, operator API"
)]
struct Cli {
    /// TOML settings file; every key can be overridden by CPMS__SECTION__KEY variables.
    #[arg(long, global = true)]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Option<Cmd>,
}

#[derive(Subcommand)]
enum Cmd {
    /// Run the CPMS (the default).
    Serve,
    /// Print an operator-API bearer token.
    AdminToken {
        /// Subject of the token.
        #[arg(long, default_value = "admin")]
        subject: String,
        /// Validity in days.
        #[arg(long, default_value_t = 365)]
        days: i64,
    },
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let settings = Settings::load(cli.config.as_deref()).context("loading settings")?;
    init_logging(settings.log.format);
    match cli.command.unwrap_or(Cmd::Serve) {
        Cmd::Serve => serve(settings).await,
        Cmd::AdminToken { subject, days } => {
            let db = db::connect(&settings.database.url, 1)
                .await
                .context("opening the database")?;
            let secret = secrets::jwt_secret(&db, settings.api.jwt_secret.as_deref()).await?;
            println!(
                "{}",
                secrets::TokenKeys::new(&secret).issue(&subject, days)?
            );
            Ok(())
        }
    }
}

async fn serve(settings: Settings) -> anyhow::Result<()> {
    let server = Server::start(&settings)
        .await
        .context("starting the CPMS")?;
    shutdown_signal().await;
    tracing::info!("shutting down: closing websockets");
    server.stop().await?;
    tracing::info!("stopped");
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! { _ = ctrl_c => {}, _ = term => {} }
}

fn init_logging(format: LogFormat) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    // Colours only for a terminal: log files and journald get plain text.
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(ansi)
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Json => builder.json().init(),
        LogFormat::Text => builder.init(),
    }
}
