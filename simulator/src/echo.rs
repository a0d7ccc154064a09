//! The ceiling: a bare websocket server that answers every CALL at once with a minimal valid
//! CALLRESULT, storing nothing. A load run against it measures what the simulator and the
//! machine can do without a CSMS, so a CSMS figure can be given as a fraction of it.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;

use anyhow::Result;
use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio::net::{TcpListener, TcpStream};
use tokio_tungstenite::tungstenite::handshake::server::{Request, Response};
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::Message;

use crate::clock::timestamp;
use crate::frame::Frame;

/// A running echo server.
pub struct EchoServer {
    /// Where it listens.
    pub addr: SocketAddr,
    task: tokio::task::JoinHandle<()>,
}

impl EchoServer {
    /// Binds `listen` (port 0 picks one) and serves until stopped; boots are answered with
    /// `heartbeat_s` as the heartbeat interval.
    pub async fn start(listen: &str, heartbeat_s: u32) -> Result<EchoServer> {
        let listener = TcpListener::bind(listen).await?;
        let addr = listener.local_addr()?;
        let transactions = Arc::new(AtomicI64::new(1));
        let task = tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    continue;
                };
                let _ = stream.set_nodelay(true);
                tokio::spawn(serve(stream, transactions.clone(), heartbeat_s));
            }
        });
        Ok(EchoServer { addr, task })
    }

    /// Stops accepting (open connections end with their tasks).
    pub fn stop(self) {
        self.task.abort();
    }
}

// tungstenite's handshake callback type fixes the large error variant; it is never built here.
#[allow(clippy::result_large_err)]
async fn serve(stream: TcpStream, transactions: Arc<AtomicI64>, heartbeat_s: u32) {
    let mut version = String::from("ocpp1.6");
    let chosen = &mut version;
    let callback = |request: &Request, mut response: Response| {
        // Accept the first subprotocol offered, as a CSMS supporting it would.
        if let Some(first) = request
            .headers()
            .get("Sec-WebSocket-Protocol")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(',').next())
        {
            let first = first.trim().to_owned();
            if let Ok(value) = HeaderValue::from_str(&first) {
                response
                    .headers_mut()
                    .insert("Sec-WebSocket-Protocol", value);
            }
            *chosen = first;
        }
        Ok(response)
    };
    let Ok(mut ws) = tokio_tungstenite::accept_hdr_async_with_config(
        stream,
        callback,
        Some(crate::station::ws_config()),
    )
    .await
    else {
        return;
    };
    let v201 = version == "ocpp2.0.1";
    while let Some(Ok(message)) = ws.next().await {
        let Message::Text(text) = message else {
            continue;
        };
        let reply = match Frame::parse(text.as_str()) {
            Ok(Frame::Call { id, action, .. }) => Frame::CallResult {
                id,
                payload: answer(&action, v201, &transactions, heartbeat_s),
            },
            Ok(_) => continue,
            Err(e) => Frame::CallError {
                id: "-1".into(),
                code: "FormationViolation".into(),
                description: e.to_string(),
            },
        };
        if ws
            .send(Message::Text(reply.to_text().into()))
            .await
            .is_err()
        {
            break;
        }
    }
}

/// The least answer a station accepts for `action`.
fn answer(action: &str, v201: bool, transactions: &AtomicI64, heartbeat_s: u32) -> Value {
    let now = timestamp(chrono::Utc::now());
    let accepted = json!({"status": "Accepted"});
    match (action, v201) {
        // 2.0.1 types the interval as an integer stations read into 16 bits; cap it as the
        // gateway does.
        ("BootNotification", true) => {
            json!({"status": "Accepted", "currentTime": now, "interval": heartbeat_s.min(65_535)})
        }
        ("BootNotification", false) => {
            json!({"status": "Accepted", "currentTime": now, "interval": heartbeat_s})
        }
        ("Heartbeat", _) => json!({"currentTime": now}),
        ("Authorize", false) => json!({"idTagInfo": accepted}),
        ("Authorize", true) => json!({"idTokenInfo": accepted}),
        ("StartTransaction", _) => json!({
            "transactionId": transactions.fetch_add(1, Ordering::Relaxed),
            "idTagInfo": accepted,
        }),
        ("StopTransaction", _) => json!({"idTagInfo": accepted}),
        _ => json!({}),
    }
}
