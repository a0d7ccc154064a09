//! Wiring: database, core, gateway, operator API and the listeners (OCPP `ws://`, OCPP `wss://`
//! when configured, HTTP), with graceful shutdown.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use ocpp_gateway::tls::{self, Peer, TlsFiles, TlsListener};
use ocpp_gateway::{Gateway, GatewayConfig};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::api::{self, ApiState};
use crate::config::{OcpiSettings, Settings, TlsSettings, UnknownStations};
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
    /// The TLS listener's settings or files are unusable.
    #[error("ocpp.tls: {0}")]
    Tls(String),
    /// The OCPI token key is unusable.
    #[error("ocpi: {0}")]
    Ocpi(#[from] secrets::TokenKeyError),
}

/// A running CPMS.
pub struct Server {
    /// Where the OCPP websocket listener listens.
    pub ocpp_addr: SocketAddr,
    /// Where the OCPP TLS websocket listener listens, when it is configured.
    pub ocpp_tls_addr: Option<SocketAddr>,
    /// Where the HTTP listener listens.
    pub http_addr: SocketAddr,
    /// The core, for in-process use (tests, tools).
    pub core: Core,
    shutdown: CancellationToken,
    task: JoinHandle<Result<(), ServerError>>,
}

impl Server {
    /// Opens the database, applies migrations, binds the listeners and starts serving.
    pub async fn start(settings: &Settings) -> Result<Server, ServerError> {
        // Read the TLS files before anything else: a broken certificate should stop the start-up,
        // not leave a CPMS that silently serves only ws://.
        let tls_config = tls_files(&settings.ocpp.tls)?
            .map(|files| tls::server_config(&files))
            .transpose()
            .map_err(|e| ServerError::Tls(e.to_string()))?;
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
                offline_grace: Duration::from_secs(settings.ocpi.offline_grace_seconds),
                session_update_interval: Duration::from_secs(
                    settings.ocpi.session_update_interval_seconds,
                ),
            },
            Arc::new(SystemClock),
        );
        let token_key =
            secrets::ocpi_token_key(core.db(), settings.ocpi.token_key.as_deref()).await?;
        let ocpi = ocpi_bridge(&settings.ocpi, &core, &token_key);
        // The core asks roaming tokens' eMSPs through the bridge; the bridge holds no core
        // reference in it, so neither keeps the other alive.
        core.set_roaming_authorizer(Arc::new(ocpi.realtime_authorizer()));
        // No websocket survives a restart: OCPI's offline rule starts counting now.
        core.reset_presence().await.map_err(|e| match e {
            crate::core::CoreError::Db(e) => ServerError::Database(e),
            other => ServerError::Database(sea_orm::DbErr::Custom(other.to_string())),
        })?;
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
        // OCPI commands reach stations through the gateway, which exists only now; the bridge's
        // clones share the receiver set here.
        let commands = crate::core::OcpiCommands::new(
            core.clone(),
            gateway.clone(),
            crate::core::CommandSettings {
                start_window: Duration::from_secs(settings.ocpi.start_session_timeout_seconds),
                // Gateway::call waits at most three response timeouts.
                call_timeout: Duration::from_secs(settings.ocpp.response_timeout.max(1) * 3),
            },
        );
        let _ = ocpi.clone().with_commands(Arc::new(commands.clone()));
        let ocpp_listener = bind(&settings.ocpp.listen).await?;
        let http_listener = bind(&settings.http.listen).await?;
        let ocpp_addr = local_addr(&ocpp_listener)?;
        let http_addr = local_addr(&http_listener)?;
        tracing::info!(%ocpp_addr, "OCPP websocket listener on ws://{ocpp_addr}/ocpp/{{station_id}}");
        let tls_listener = match tls_config {
            Some(config) => {
                let tcp = bind(&settings.ocpp.tls.listen).await?;
                let addr = local_addr(&tcp)?;
                let listener = TlsListener::new(tcp, config)
                    .map_err(|e| ServerError::Io("OCPP TLS listener".into(), e))?;
                tracing::info!(ocpp_tls_addr = %addr, client_certificates = settings.ocpp.tls.client_ca_file.is_some(), "OCPP TLS websocket listener on wss://{addr}/ocpp/{{station_id}}");
                Some((listener, addr))
            }
            None => None,
        };
        let ocpp_tls_addr = tls_listener.as_ref().map(|(_, addr)| *addr);
        tracing::info!(%http_addr, versions_url = %ocpi.versions_url(), "HTTP listener (operator API /api, /health, OCPI /ocpi)");

        let api = api::router(ApiState {
            core: core.clone(),
            gateway: gateway.clone(),
            keys: secrets::TokenKeys::new(&secret),
            ocpi: ocpi.clone(),
        })
        .nest("/ocpi", ocpi.router());
        let ocpp_app = gateway.router();
        let push = tokio::spawn(ocpi_bridge::push::run(
            ocpi.clone(),
            Arc::new(core.clone()),
            push_settings(&settings.ocpi),
            shutdown.clone().cancelled_owned(),
        ));
        let commands = tokio::spawn(commands.run(shutdown.clone().cancelled_owned()));
        // Roaming tokens into the stations' local lists, sent through the gateway.
        let local_lists = settings.ocpi.roaming_local_lists.then(|| {
            tokio::spawn(
                core.clone()
                    .run_roaming_local_lists(gateway.clone(), shutdown.clone()),
            )
        });
        let token = shutdown.clone();
        let task = tokio::spawn(async move {
            // Both OCPP listeners hand the handshake a `Peer`: whether the connection is TLS and
            // which client certificate it proved, for the per-station security profile check.
            let ocpp = axum::serve(
                ocpp_listener,
                ocpp_app
                    .clone()
                    .into_make_service_with_connect_info::<Peer>(),
            )
            .with_graceful_shutdown(token.clone().cancelled_owned());
            let ocpp_tls = async {
                match tls_listener {
                    Some((listener, _)) => {
                        axum::serve(
                            listener,
                            ocpp_app.into_make_service_with_connect_info::<Peer>(),
                        )
                        .with_graceful_shutdown(token.clone().cancelled_owned())
                        .await
                    }
                    None => Ok(()),
                }
            };
            let http = axum::serve(http_listener, api)
                .with_graceful_shutdown(token.clone().cancelled_owned());
            let (a, t, b) = tokio::join!(ocpp, ocpp_tls, http);
            // Upgraded websockets outlive the HTTP server; wait until each has sent its close frame.
            gateway.closed().await;
            if let Err(e) = push.await {
                tracing::error!(error = %e, "OCPI push worker failed");
            }
            if let Err(e) = commands.await {
                tracing::error!(error = %e, "OCPI commands worker failed");
            }
            if let Some(Err(e)) = match local_lists {
                Some(task) => Some(task.await),
                None => None,
            } {
                tracing::error!(error = %e, "roaming local list sync failed");
            }
            a.map_err(|e| ServerError::Io("ocpp listener".into(), e))?;
            t.map_err(|e| ServerError::Io("ocpp tls listener".into(), e))?;
            b.map_err(|e| ServerError::Io("http listener".into(), e))?;
            Ok(())
        });
        Ok(Server {
            ocpp_addr,
            ocpp_tls_addr,
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

/// The OCPI bridge over the core's partner store.
fn ocpi_bridge(settings: &OcpiSettings, core: &Core, token_key: &[u8; 32]) -> ocpi_bridge::Bridge {
    if settings.allow_private_partner_urls {
        tracing::warn!("ocpi.allow_private_partner_urls = true: partner URLs may point at loopback and private addresses over http; test setups only");
    }
    ocpi_bridge::Bridge::new(
        ocpi_bridge::OcpiConfig {
            country_code: settings.country_code.clone(),
            party_id: settings.party_id.clone(),
            business_name: settings.business_name.clone(),
            business_website: settings.business_website.clone(),
            public_url: settings.public_url.clone(),
            allow_private_partner_urls: settings.allow_private_partner_urls,
            max_page_limit: settings.page_limit,
            realtime_auth_timeout: Duration::from_millis(settings.realtime_auth_timeout_ms.max(1)),
            currency: settings.currency.clone(),
        },
        Arc::new(core.clone()),
        token_key,
    )
    .with_tariffs(Arc::new(core.clone()))
    .with_tokens(Arc::new(core.clone()))
    .with_sessions(Arc::new(core.clone()))
    .with_cdrs(Arc::new(core.clone()))
    .with_locations(
        Arc::new(core.clone()),
        Duration::from_secs(settings.offline_grace_seconds),
    )
}

/// The push worker's retry policy from `[ocpi]`.
fn push_settings(settings: &OcpiSettings) -> ocpi_bridge::push::PushSettings {
    let base = Duration::try_from_secs_f64(settings.push_retry_base_seconds)
        .unwrap_or(Duration::from_secs(2));
    ocpi_bridge::push::PushSettings {
        retry_base: base,
        retry_max: Duration::from_secs(settings.push_retry_max_seconds).max(base),
        max_attempts: settings.push_max_attempts.max(1),
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

/// The TLS listener's files, when it is configured. A certificate without its key (or the other
/// way round), or a client CA without a listener, is a mistake worth refusing to start over.
fn tls_files(settings: &TlsSettings) -> Result<Option<TlsFiles>, ServerError> {
    match (&settings.cert_file, &settings.key_file) {
        (Some(cert_file), Some(key_file)) => Ok(Some(TlsFiles {
            cert_file: cert_file.clone(),
            key_file: key_file.clone(),
            client_ca_file: settings.client_ca_file.clone(),
        })),
        (None, None) if settings.client_ca_file.is_none() => Ok(None),
        (None, None) => Err(ServerError::Tls(
            "client_ca_file is set but cert_file and key_file are not".into(),
        )),
        _ => Err(ServerError::Tls(
            "cert_file and key_file must be set together".into(),
        )),
    }
}

fn local_addr(listener: &TcpListener) -> Result<SocketAddr, ServerError> {
    listener
        .local_addr()
        .map_err(|e| ServerError::Io("listener address".into(), e))
}
