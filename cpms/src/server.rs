//! Wiring: database, core, gateway, operator API and the two listeners, with graceful shutdown.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use ocpp_gateway::{Gateway, GatewayConfig};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::api::{self, ApiState};
use crate::config::{Settings, UnknownStations};
use crate::core::{Core, CorePolicy, SystemClock};
use crate::events::EventBus;
use crate::{db, secrets};

/// Why the server could not start or run.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    /// The database could not be opened or migrated.
    #[error("database: {0}")]
    Database(#[from] sea_orm::DbErr),
    /// A listener could not bind or failed.
    #[error("{0}: {1}")]
    Io(String, std::io::Error),
}

/// A running CPMS.
pub struct Server {
    /// Where the OCPP websocket listener listens.
    pub ocpp_addr: SocketAddr,
    /// Where the HTTP listener listens.
    pub http_addr: SocketAddr,
    /// The core, for in-process use (tests, tools).
    pub core: Core,
    shutdown: CancellationToken,
    task: JoinHandle<Result<(), ServerError>>,
}

impl Server {
    /// Opens the database, applies migrations, binds both listeners and starts serving.
    pub async fn start(settings: &Settings) -> Result<Server, ServerError> {
        let db = db::connect(&settings.database.url, settings.database.max_connections).await?;
        let secret = secrets::jwt_secret(&db, settings.api.jwt_secret.as_deref()).await?;
        if settings.ocpp.unknown_stations == UnknownStations::Accept {
            tracing::warn!("unknown stations are accepted (ocpp.unknown_stations = accept): fine for a quick start, not for production");
        }
        let core = Core::new(
            db,
            EventBus::default(),
            CorePolicy {
                unknown_stations: settings.ocpp.unknown_stations,
                heartbeat_interval: settings.ocpp.heartbeat_interval,
                boot_retry_interval: settings.ocpp.boot_retry_interval,
            },
            Arc::new(SystemClock),
        );
        let shutdown = CancellationToken::new();
        let gateway = Gateway::new(
            Arc::new(core.clone()),
            GatewayConfig {
                response_timeout: Duration::from_secs(settings.ocpp.response_timeout.max(1)),
                ping_interval: Duration::from_secs(settings.ocpp.ping_interval),
                max_message_size: settings.ocpp.max_message_size,
            },
            shutdown.clone(),
        );
        let ocpp_listener = bind(&settings.ocpp.listen).await?;
        let http_listener = bind(&settings.http.listen).await?;
        let ocpp_addr = local_addr(&ocpp_listener)?;
        let http_addr = local_addr(&http_listener)?;
        tracing::info!(%ocpp_addr, "OCPP websocket listener on ws://{ocpp_addr}/ocpp/{{station_id}}");
        tracing::info!(%http_addr, "HTTP listener (operator API /api, /health)");

        let api = api::router(ApiState {
            core: core.clone(),
            gateway: gateway.clone(),
            keys: secrets::TokenKeys::new(&secret),
        });
        let ocpp_app = gateway.router();
        let token = shutdown.clone();
        let task = tokio::spawn(async move {
            let ocpp = axum::serve(ocpp_listener, ocpp_app)
                .with_graceful_shutdown(token.clone().cancelled_owned());
            let http = axum::serve(http_listener, api)
                .with_graceful_shutdown(token.clone().cancelled_owned());
            let (a, b) = tokio::join!(ocpp, http);
            // Upgraded websockets outlive the HTTP server; wait until each has sent its close frame.
            gateway.closed().await;
            a.map_err(|e| ServerError::Io("ocpp listener".into(), e))?;
            b.map_err(|e| ServerError::Io("http listener".into(), e))?;
            Ok(())
        });
        Ok(Server {
            ocpp_addr,
            http_addr,
            core,
            shutdown,
            task,
        })
    }

    /// Asks the server to stop: no new connections, websockets closed with a close frame.
    pub fn shutdown(&self) {
        self.shutdown.cancel();
    }

    /// Waits until the server has stopped.
    pub async fn wait(self) -> Result<(), ServerError> {
        match self.task.await {
            Ok(result) => result,
            Err(e) => Err(ServerError::Io(
                "server task".into(),
                std::io::Error::other(e.to_string()),
            )),
        }
    }

    /// Shuts down and waits.
    pub async fn stop(self) -> Result<(), ServerError> {
        self.shutdown();
        self.wait().await
    }
}

/// Pending connections the kernel queues for us. tokio's default (128) overflows when a fleet
/// reconnects at once after a restart: the surplus SYNs are dropped and each station retries a
/// second later. The kernel caps it at net.core.somaxconn.
const LISTEN_BACKLOG: u32 = 4096;

async fn bind(addr: &str) -> Result<TcpListener, ServerError> {
    let error = |e| ServerError::Io(format!("cannot listen on {addr}"), e);
    let socket_addr = tokio::net::lookup_host(addr)
        .await
        .map_err(error)?
        .next()
        .ok_or_else(|| error(std::io::Error::other("address resolves to nothing")))?;
    let socket = if socket_addr.is_ipv4() {
        tokio::net::TcpSocket::new_v4()
    } else {
        tokio::net::TcpSocket::new_v6()
    }
    .map_err(error)?;
    // Restart without waiting for TIME_WAIT sockets of the previous run to expire.
    socket.set_reuseaddr(true).map_err(error)?;
    socket.bind(socket_addr).map_err(error)?;
    socket.listen(LISTEN_BACKLOG).map_err(error)
}

fn local_addr(listener: &TcpListener) -> Result<SocketAddr, ServerError> {
    listener
        .local_addr()
        .map_err(|e| ServerError::Io("listener address".into(), e))
}
