//! The OCPP-J edge of the CPMS: it accepts stations' websockets, speaks OCPP-J framing, and
//! translates each version's messages into questions to the core through [`port::StationBackend`].
//!
//! Invariant: the gateway holds no business state. What it keeps is connection state only (which
//! station is connected, which call is in flight); everything that must survive a restart is the
//! backend's.
//!
//! - [`frame`]: the OCPP-J wire format.
//! - [`port`]: what the gateway asks of the core, and the commands the core can send to stations.
//! - [`Gateway`]: the handshake (path, subprotocol, Basic auth), the registry of live sessions, and
//!   the way to send a command to a station.
//! - [`tls`]: the `wss://` listener (security profiles 2 and 3) and what its handshake proved.

pub mod frame;
pub mod port;
mod session;
pub mod tls;
mod v16;
mod v201;

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::ws::{CloseFrame, Message, WebSocketUpgrade};
use axum::extract::{ConnectInfo, Path, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use base64::Engine;
use tokio::sync::{mpsc, oneshot};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use port::{Admission, Command, CommandError, CommandReply, OcppVersion, StationBackend};
use session::{OutgoingCall, SessionSettings, StationContext};
use tls::Peer;

/// Gateway settings.
#[derive(Debug, Clone)]
pub struct GatewayConfig {
    /// How long a station has to answer a CSMS-initiated call.
    pub response_timeout: Duration,
    /// Interval of websocket pings; zero disables them.
    pub ping_interval: Duration,
    /// Largest websocket message (and frame) accepted from a station, in bytes.
    pub max_message_size: usize,
}

impl Default for GatewayConfig {
    fn default() -> Self {
        GatewayConfig {
            response_timeout: Duration::from_secs(30),
            ping_interval: Duration::from_secs(30),
            max_message_size: 256 * 1024,
        }
    }
}

/// Handle to the gateway: cheap to clone, shared by the websocket listener and the operator API.
#[derive(Clone)]
pub struct Gateway {
    inner: Arc<Inner>,
}

struct Inner {
    backend: Arc<dyn StationBackend>,
    config: GatewayConfig,
    sessions: Mutex<HashMap<String, SessionHandle>>,
    next_connection: AtomicU64,
    shutdown: CancellationToken,
    tasks: TaskTracker,
}

/// What the registry keeps of a live session.
struct SessionHandle {
    connection: u64,
    version: OcppVersion,
    commands: mpsc::Sender<OutgoingCall>,
    close: CancellationToken,
}

/// Bytes read from a station's socket at a time.
const READ_BUFFER_SIZE: usize = 8 * 1024;

/// Subprotocols we speak, in order of preference: a station offering both gets 2.0.1, the richer
/// protocol (OCPP-J 2.0.1 §3.1.2: the server picks from the client's list).
const SUBPROTOCOLS: &[(&str, OcppVersion)] = &[
    ("ocpp2.0.1", OcppVersion::V201),
    ("ocpp1.6", OcppVersion::V16),
];

impl Gateway {
    /// A gateway answering with `backend`; cancelling `shutdown` closes every session.
    pub fn new(
        backend: Arc<dyn StationBackend>,
        config: GatewayConfig,
        shutdown: CancellationToken,
    ) -> Self {
        Gateway {
            inner: Arc::new(Inner {
                backend,
                config,
                sessions: Mutex::new(HashMap::new()),
                next_connection: AtomicU64::new(1),
                shutdown,
                tasks: TaskTracker::new(),
            }),
        }
    }

    /// The websocket listener's routes: `GET /ocpp/{station_id}`. Serve them with
    /// `into_make_service_with_connect_info::<tls::Peer>()`, over a `TcpListener` (`ws://`) or a
    /// [`tls::TlsListener`] (`wss://`): the handshake needs to know which it was, and without that
    /// connect info every handshake fails (HTTP 500), never admits.
    pub fn router(&self) -> Router {
        Router::new()
            .route("/ocpp/{station_id}", get(handshake))
            .with_state(self.clone())
    }

    /// Whether `station_id` has an open session.
    pub fn is_connected(&self, station_id: &str) -> bool {
        self.sessions().contains_key(station_id)
    }

    /// The OCPP version of the station's open session, if any.
    pub fn version_of(&self, station_id: &str) -> Option<OcppVersion> {
        self.sessions().get(station_id).map(|s| s.version)
    }

    /// Sends `command` to the station and waits for its answer (bounded by the response timeout,
    /// counted from when the call leaves, plus the time it waits behind earlier calls).
    pub async fn call(
        &self,
        station_id: &str,
        command: Command,
    ) -> Result<CommandReply, CommandError> {
        let sender = self
            .sessions()
            .get(station_id)
            .map(|s| s.commands.clone())
            .ok_or_else(|| CommandError::Offline(station_id.to_owned()))?;
        let (reply, answer) = oneshot::channel();
        sender
            .send(OutgoingCall { command, reply })
            .await
            .map_err(|_| CommandError::Offline(station_id.to_owned()))?;
        let limit = self.inner.config.response_timeout * 3;
        match tokio::time::timeout(limit, answer).await {
            Ok(Ok(result)) => result,
            Ok(Err(_)) => Err(CommandError::Closed),
            Err(_) => Err(CommandError::Timeout(limit.as_secs())),
        }
    }

    /// Waits until every session has ended (after shutdown was signalled).
    pub async fn closed(&self) {
        self.inner.tasks.close();
        self.inner.tasks.wait().await;
    }

    fn sessions(&self) -> std::sync::MutexGuard<'_, HashMap<String, SessionHandle>> {
        // A poisoned lock only means a panic elsewhere while holding it; the map is still valid.
        self.inner
            .sessions
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Registers a new session, closing the one it replaces (OCPP-J: a station has one connection).
    fn register(&self, station_id: &str, handle: SessionHandle) {
        if let Some(old) = self.sessions().insert(station_id.to_owned(), handle) {
            tracing::info!(station = %station_id, "new connection replaces the previous one");
            old.close.cancel();
        }
    }

    /// Removes the session if it is still the registered one; returns whether it was.
    fn unregister(&self, station_id: &str, connection: u64) -> bool {
        let mut sessions = self.sessions();
        if sessions
            .get(station_id)
            .is_some_and(|s| s.connection == connection)
        {
            sessions.remove(station_id);
            true
        } else {
            false
        }
    }
}

/// Station ids become URL path segments, database keys and log fields: keep them printable and
/// bounded (OCPP 2.0.1 allows at most 48 characters; 1.6 sets no limit, we allow 64).
fn valid_station_id(id: &str) -> bool {
    !id.is_empty() && id.len() <= 64 && id.chars().all(|c| c.is_ascii_graphic() && c != '/')
}

/// OCPP 2.0.1 narrows the identity: at most 48 characters (identifierString[48]) and no ':', which
/// would break the Basic-auth user:password pair (OCPP 2.0.1 part 2, security profile 1).
fn valid_v201_station_id(id: &str) -> bool {
    valid_station_id(id) && id.len() <= 48 && !id.contains(':')
}

/// Reads HTTP Basic credentials.
fn basic_credentials(headers: &HeaderMap) -> Result<Option<(String, String)>, ()> {
    let Some(value) = headers.get(header::AUTHORIZATION) else {
        return Ok(None);
    };
    let value = value.to_str().map_err(|_| ())?;
    let encoded = value
        .strip_prefix("Basic ")
        .or_else(|| value.strip_prefix("basic "))
        .ok_or(())?;
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .map_err(|_| ())?;
    let text = String::from_utf8(decoded).map_err(|_| ())?;
    let (user, password) = text.split_once(':').ok_or(())?;
    Ok(Some((user.to_owned(), password.to_owned())))
}

/// The subprotocol we pick from the client's offer.
fn pick_subprotocol(headers: &HeaderMap) -> Option<(&'static str, OcppVersion)> {
    let offered: Vec<String> = headers
        .get_all(header::SEC_WEBSOCKET_PROTOCOL)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|p| p.trim().to_ascii_lowercase())
        .collect();
    SUBPROTOCOLS
        .iter()
        .find(|(name, _)| offered.iter().any(|o| o == name))
        .copied()
}

fn unauthorized() -> Response {
    (
        StatusCode::UNAUTHORIZED,
        [(header::WWW_AUTHENTICATE, "Basic realm=\"cpms\"")],
        "unauthorized",
    )
        .into_response()
}

/// The websocket handshake: station id from the path, Basic auth and the transport (TLS, client
/// certificate) checked by the backend before the upgrade (a refused station never gets a
/// websocket), subprotocol negotiated.
async fn handshake(
    State(gateway): State<Gateway>,
    ConnectInfo(peer): ConnectInfo<Peer>,
    Path(station_id): Path<String>,
    headers: HeaderMap,
    upgrade: WebSocketUpgrade,
) -> Response {
    if !valid_station_id(&station_id) {
        return (StatusCode::BAD_REQUEST, "invalid station id").into_response();
    }
    if matches!(pick_subprotocol(&headers), Some((_, OcppVersion::V201)))
        && !valid_v201_station_id(&station_id)
    {
        return (
            StatusCode::BAD_REQUEST,
            "invalid station id for OCPP 2.0.1 (at most 48 characters, no ':')",
        )
            .into_response();
    }
    let password = match basic_credentials(&headers) {
        Ok(Some((user, password))) if user == station_id => Some(password),
        Ok(Some(_)) => {
            tracing::warn!(station = %station_id, "Basic auth user differs from the station id");
            return unauthorized();
        }
        Ok(None) => None,
        Err(()) => return unauthorized(),
    };
    let backend = gateway.inner.backend.clone();
    if backend
        .admit(&station_id, password.as_deref(), &peer.security)
        .await
        == Admission::Refuse
    {
        tracing::warn!(
            station = %station_id,
            peer = %peer.addr,
            tls = peer.security.tls,
            client_cert_cn = ?peer.security.client_cert_cn,
            "connection refused"
        );
        return unauthorized();
    }
    let config = &gateway.inner.config;
    // tungstenite allocates its read buffer up front per connection (128 KiB by default), which
    // made most of a station's memory; OCPP frames are small, and a larger message is still
    // assembled up to `max_message_size` (docs/benchmarks.md, memory per connection).
    let upgrade = upgrade
        .read_buffer_size(READ_BUFFER_SIZE)
        .max_message_size(config.max_message_size)
        .max_frame_size(config.max_message_size);
    let Some((name, version)) = pick_subprotocol(&headers) else {
        // OCPP-J §3.1.2: without a common subprotocol, finish the handshake and close at once.
        tracing::warn!(station = %station_id, "no supported OCPP subprotocol offered");
        return upgrade.on_upgrade(|mut socket| async move {
            let _ = socket
                .send(Message::Close(Some(CloseFrame {
                    code: 1002,
                    reason: "no supported OCPP subprotocol (ocpp2.0.1, ocpp1.6)".into(),
                })))
                .await;
        });
    };
    let tasks = gateway.inner.tasks.clone();
    upgrade.protocols([name]).on_upgrade(move |socket| {
        tasks.track_future(async move {
            let inner = &gateway.inner;
            let connection = inner.next_connection.fetch_add(1, Ordering::Relaxed);
            let (commands_tx, commands_rx) = mpsc::channel(32);
            let close = inner.shutdown.child_token();
            gateway.register(
                &station_id,
                SessionHandle {
                    connection,
                    version,
                    commands: commands_tx,
                    close: close.clone(),
                },
            );
            tracing::info!(station = %station_id, protocol = name, "station connected");
            inner.backend.connected(&station_id, version).await;
            let ctx = StationContext {
                station_id: station_id.clone(),
                backend: inner.backend.clone(),
            };
            let settings = SessionSettings {
                response_timeout: inner.config.response_timeout,
                ping_interval: inner.config.ping_interval,
            };
            session::run(
                socket,
                ctx,
                version,
                settings,
                commands_rx,
                close,
                inner.shutdown.clone(),
            )
            .await;
            if gateway.unregister(&station_id, connection) {
                tracing::info!(station = %station_id, "station disconnected");
                inner.backend.disconnected(&station_id).await;
            }
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    #[test]
    fn prefers_a_supported_subprotocol_from_the_offer() {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::SEC_WEBSOCKET_PROTOCOL,
            HeaderValue::from_static("ocpp1.5, ocpp1.6"),
        );
        assert_eq!(
            pick_subprotocol(&headers),
            Some(("ocpp1.6", OcppVersion::V16))
        );
        headers.insert(
            header::SEC_WEBSOCKET_PROTOCOL,
            HeaderValue::from_static("ocpp1.5"),
        );
        assert_eq!(pick_subprotocol(&headers), None);
        headers.insert(
            header::SEC_WEBSOCKET_PROTOCOL,
            HeaderValue::from_static("ocpp1.6, ocpp2.0.1"),
        );
        assert_eq!(
            pick_subprotocol(&headers),
            Some(("ocpp2.0.1", OcppVersion::V201))
        );
    }

    #[test]
    fn reads_basic_credentials() {
        let mut headers = HeaderMap::new();
        let token = base64::engine::general_purpose::STANDARD.encode("CP1:s3cret:x");
        headers.insert(
            header::AUTHORIZATION,
            HeaderValue::from_str(&format!("Basic {token}")).unwrap(),
        );
        assert_eq!(
            basic_credentials(&headers),
            Ok(Some(("CP1".into(), "s3cret:x".into())))
        );
        headers.insert(header::AUTHORIZATION, HeaderValue::from_static("Basic !!"));
        assert_eq!(basic_credentials(&headers), Err(()));
    }

    #[test]
    fn station_ids_are_bounded_and_printable() {
        assert!(valid_station_id("CP-001"));
        assert!(!valid_station_id(""));
        assert!(!valid_station_id("has space"));
        assert!(!valid_station_id(&"x".repeat(65)));
        assert!(valid_station_id("CP:1"));
        assert!(!valid_v201_station_id("CP:1"));
        assert!(valid_v201_station_id(&"x".repeat(48)));
        assert!(!valid_v201_station_id(&"x".repeat(49)));
    }
}
