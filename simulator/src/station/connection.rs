//! The station's websocket: the handshake (subprotocol, Basic auth, TLS), sending one CALL at a
//! time, reading frames from the CSMS, and what a lost connection keeps and drops.

use std::sync::atomic::Ordering;
use std::time::Duration;

use base64::Engine;
use futures_util::{SinkExt, StreamExt};
use rand::Rng;
use serde_json::Value;
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::Message;

use super::{CallFailure, InFlight, Outgoing, Phase, Protocol, Purpose, Socket, Station};
use crate::frame::Frame;

/// How long a handshake may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

impl Station {
    pub(super) async fn connect(&mut self) {
        match tokio::time::timeout(CONNECT_TIMEOUT, self.handshake()).await {
            Ok(Ok(ws)) => {
                self.metrics.connects.fetch_add(1, Ordering::Relaxed);
                if self.first_boot.is_some() || self.boot_reason_reset {
                    self.metrics.reconnects.fetch_add(1, Ordering::Relaxed);
                }
                self.metrics.connected.fetch_add(1, Ordering::Relaxed);
                self.ws = Some(ws);
                if !self.registered {
                    self.boot_due = Some(Instant::now());
                } else {
                    // Back online after a drop: report the connectors as they are now, then the
                    // queued transaction messages follow in their original order.
                    for i in 0..self.connectors.len() {
                        self.queue_status_front(i);
                    }
                }
            }
            Ok(Err(e)) => {
                self.metrics
                    .connect_failures
                    .fetch_add(1, Ordering::Relaxed);
                self.metrics
                    .note(format!("{}: connect failed: {e}", self.spec.id));
                self.reconnect_at = Instant::now() + self.backoff();
            }
            Err(_) => {
                self.metrics
                    .connect_failures
                    .fetch_add(1, Ordering::Relaxed);
                self.metrics
                    .note(format!("{}: connect timed out", self.spec.id));
                self.reconnect_at = Instant::now() + self.backoff();
            }
        }
    }

    pub(super) fn backoff(&mut self) -> Duration {
        // Spread reconnections so a restarted CSMS is not hit by the whole fleet at once.
        let base = self.spec.behaviour.reconnect_delay_s.max(0.5);
        self.clock.real(base * self.rng.random_range(1.0..2.0))
    }

    pub(super) async fn handshake(&self) -> Result<Socket, tokio_tungstenite::tungstenite::Error> {
        let mut request = self.spec.url.as_str().into_client_request()?;
        let headers = request.headers_mut();
        headers.insert(
            "Sec-WebSocket-Protocol",
            HeaderValue::from_static(self.spec.protocol.subprotocol()),
        );
        if let Some(password) = &self.spec.password {
            let encoded = base64::engine::general_purpose::STANDARD
                .encode(format!("{}:{password}", self.spec.id));
            if let Ok(value) = HeaderValue::from_str(&format!("Basic {encoded}")) {
                headers.insert("Authorization", value);
            }
        }
        let connector = self
            .spec
            .tls
            .clone()
            .map(tokio_tungstenite::Connector::Rustls);
        let (ws, _) = tokio_tungstenite::connect_async_tls_with_config(
            request,
            Some(ws_config()),
            true,
            connector,
        )
        .await?;
        Ok(ws)
    }

    /// The socket is gone (or we dropped it): keep the transaction messages, forget the rest,
    /// reconnect after `delay_s` simulated seconds.
    pub(super) fn lost_connection(&mut self, delay_s: f64) {
        if self.ws.take().is_some() {
            self.metrics.connected.fetch_sub(1, Ordering::Relaxed);
        }
        if let Some(in_flight) = self.in_flight.take() {
            if in_flight.call.durable {
                self.queue.push_front(in_flight.call);
            }
        }
        self.queue.retain(|c| c.durable);
        self.heartbeat_due = None;
        self.boot_due = None;
        self.reconnect_at = self.clock.after(Instant::now(), delay_s);
        // An Authorize that will never be answered: authorize locally, as LocalAuthorizeOffline
        // allows, and start the transaction.
        for i in 0..self.connectors.len() {
            let authorizing = self.connectors[i]
                .session
                .as_ref()
                .is_some_and(|s| s.phase == Phase::Authorizing);
            if authorizing {
                self.begin_transaction(i);
            }
        }
    }

    /// Sends the next CALL when nothing is in flight (OCPP-J: one CALL at a time per direction).
    pub(super) async fn pump(&mut self) {
        if self.ws.is_none() || self.in_flight.is_some() {
            return;
        }
        if !self.registered {
            if self.boot_due.is_some_and(|t| Instant::now() >= t) {
                self.boot_due = None;
                let boot = self.msg_boot();
                self.send_call(boot).await;
            }
            return;
        }
        if let Some(reason) = self.pending_reset {
            // Reboot once the transaction messages are out, as firmware does.
            if !self.queue.iter().any(|c| c.durable) {
                self.pending_reset = None;
                self.reboot(reason).await;
                return;
            }
        }
        if self.malformed_due() {
            // Sent while no CALL of ours is in flight, so the CSMS's answer cannot be mistaken
            // for the answer to a real CALL.
            self.send_malformed().await;
            return;
        }
        if self.queue.is_empty() && self.spec.load.is_some() && !self.ready_sent {
            self.ready_sent = true;
            self.metrics.ready.fetch_add(1, Ordering::Relaxed);
        }
        if self.queue.is_empty() && self.load_closed_loop() {
            self.load_step();
        }
        while let Some(mut call) = self.queue.pop_front() {
            if let Purpose::TxBound { key, .. } = call.purpose {
                match self.tx_ids.get(&key) {
                    Some(id) => call.payload["transactionId"] = Value::from(*id),
                    // The StartTransaction was refused with a CALLERROR: there is no
                    // transaction to report on.
                    None => continue,
                }
            }
            self.send_call(call).await;
            return;
        }
    }

    pub(super) async fn send_call(&mut self, call: Outgoing) {
        let id = format!("{}", self.next_msg_id);
        self.next_msg_id += 1;
        let text = Frame::Call {
            id: id.clone(),
            action: call.action.to_owned(),
            payload: call.payload.clone(),
        }
        .to_text();
        let sent_at = Instant::now();
        self.in_flight = Some(InFlight { id, sent_at, call });
        if self.send_text(text).await {
            self.metrics.calls_sent.fetch_add(1, Ordering::Relaxed);
        }
    }

    pub(super) async fn send_text(&mut self, text: String) -> bool {
        let Some(ws) = self.ws.as_mut() else {
            return false;
        };
        if ws.send(Message::Text(text.into())).await.is_err() {
            self.lost_connection(self.spec.behaviour.reconnect_delay_s);
            return false;
        }
        true
    }

    pub(super) async fn on_text(&mut self, text: &str) {
        let frame = match Frame::parse(text) {
            Ok(f) => f,
            Err(e) => {
                self.metrics
                    .note(format!("{}: unreadable frame from CSMS: {e}", self.spec.id));
                return;
            }
        };
        match frame {
            Frame::Call {
                id,
                action,
                payload,
            } => {
                self.metrics.csms_call(&action);
                let answer = match self.spec.protocol {
                    Protocol::V16 => self.v16_call(&action, payload),
                    Protocol::V201 => self.v201_call(&action, payload),
                };
                let reply = match answer {
                    Ok(payload) => Frame::CallResult { id, payload },
                    Err(CallFailure { code, description }) => Frame::CallError {
                        id,
                        code: code.to_owned(),
                        description,
                    },
                };
                self.send_text(reply.to_text()).await;
            }
            Frame::CallResult { id, payload } => {
                if let Some(f) = self.take_in_flight(&id) {
                    self.metrics.result(f.call.action, f.sent_at.elapsed());
                    self.on_result(f.call, payload);
                }
            }
            Frame::CallError {
                id,
                code,
                description,
            } => match self.take_in_flight(&id) {
                Some(f) => {
                    self.metrics
                        .call_error(Some(f.call.action), &code, f.sent_at.elapsed());
                    self.metrics.note(format!(
                        "{}: {} answered {code}: {description}",
                        self.spec.id, f.call.action
                    ));
                    if f.call.purpose == Purpose::Boot {
                        self.boot_due = Some(self.clock.after(Instant::now(), 30.0));
                    }
                }
                None => self.metrics.call_error(None, &code, Duration::ZERO),
            },
        }
    }

    pub(super) fn take_in_flight(&mut self, id: &str) -> Option<InFlight> {
        if self.in_flight.as_ref().is_some_and(|f| f.id == id) {
            self.in_flight.take()
        } else {
            None
        }
    }
}

/// Websocket buffers sized for OCPP: messages are a few hundred bytes, and tungstenite's default
/// 128 KiB read buffer per connection would dominate the memory of a large fleet.
pub fn ws_config() -> tokio_tungstenite::tungstenite::protocol::WebSocketConfig {
    tokio_tungstenite::tungstenite::protocol::WebSocketConfig::default()
        .read_buffer_size(8 * 1024)
        .write_buffer_size(0)
}

/// The next frame from the CSMS; never, while there is no socket.
pub(super) async fn next_message(
    ws: &mut Option<Socket>,
) -> Option<Result<Message, tokio_tungstenite::tungstenite::Error>> {
    match ws {
        Some(ws) => ws.next().await,
        None => std::future::pending().await,
    }
}
