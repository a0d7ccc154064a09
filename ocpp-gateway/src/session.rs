//! A station's websocket session: one task that owns the socket.
//!
//! The task reads frames, answers the station's CALLs one at a time (so a CALLRESULT is only sent
//! after the backend stored the effect), sends the CSMS's own CALLs one at a time (OCPP-J §4.1.1:
//! one CALL in flight per direction; the rest wait in a queue), times out unanswered calls, and
//! keeps the connection alive with pings. Other parts of the system talk to it only through its
//! command channel and its close token; no lock is held across an await.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::ws::{CloseFrame, Message, WebSocket};
use tokio::sync::{mpsc, oneshot};
use tokio::time::{sleep_until, Instant};
use tokio_util::sync::CancellationToken;

use crate::frame::{ErrorCode, Frame, FrameErrorKind, UNKNOWN_UNIQUE_ID};
use crate::port::{Command, CommandError, CommandReply, OcppVersion, StationBackend};
use crate::{v16, v201};

/// Who the session talks for: the station id and the backend that answers its questions.
pub(crate) struct StationContext {
    pub station_id: String,
    pub backend: Arc<dyn StationBackend>,
}

/// A CSMS-initiated call waiting to be sent, with the place its answer goes.
pub(crate) struct OutgoingCall {
    pub command: Command,
    pub reply: oneshot::Sender<Result<CommandReply, CommandError>>,
}

/// The call currently in flight towards the station.
struct Pending {
    unique_id: String,
    action: &'static str,
    /// The command sent, for answers that repeat part of it (2.0.1 remoteStartId).
    command: Command,
    reply: oneshot::Sender<Result<CommandReply, CommandError>>,
    deadline: Instant,
}

/// Timing and size settings of a session.
#[derive(Debug, Clone)]
pub(crate) struct SessionSettings {
    pub response_timeout: Duration,
    pub ping_interval: Duration,
}

/// Why a session ended; decides the close frame.
enum Ending {
    /// The station closed or the socket failed: nothing to send.
    Gone,
    /// Closed by us with this code and reason.
    Close(u16, &'static str),
}

/// Runs the session until the station leaves, a newer connection replaces it (`close`), or the
/// server shuts down (`close` is a child of the shutdown token).
pub(crate) async fn run(
    mut socket: WebSocket,
    ctx: StationContext,
    version: OcppVersion,
    settings: SessionSettings,
    mut commands: mpsc::Receiver<OutgoingCall>,
    close: CancellationToken,
    shutdown: CancellationToken,
) {
    let mut queue: VecDeque<OutgoingCall> = VecDeque::new();
    let mut pending: Option<Pending> = None;
    let ping_enabled = !settings.ping_interval.is_zero();
    let mut ping = tokio::time::interval(if ping_enabled {
        settings.ping_interval
    } else {
        Duration::from_secs(3600)
    });
    ping.reset();
    let mut last_activity = Instant::now();

    let ending = 'session: loop {
        // A command that cannot be expressed leaves nothing in flight: go on to the next one at
        // once, or it would wait for some unrelated event (a message, a ping) to wake the loop.
        while pending.is_none() {
            let Some(call) = queue.pop_front() else {
                break;
            };
            match start_call(&mut socket, version, call, settings.response_timeout).await {
                Ok(p) => pending = p,
                Err(()) => break 'session Ending::Gone,
            }
        }
        let deadline = pending.as_ref().map(|p| p.deadline);
        tokio::select! {
            _ = close.cancelled() => {
                break if shutdown.is_cancelled() {
                    Ending::Close(1001, "server shutting down")
                } else {
                    Ending::Close(1000, "replaced by a newer connection")
                };
            }
            incoming = socket.recv() => {
                let text = match incoming {
                    None | Some(Ok(Message::Close(_))) => break Ending::Gone,
                    Some(Err(e)) => {
                        tracing::info!(station = %ctx.station_id, error = %e, "websocket error");
                        // tungstenite refuses a message over the size limit with a capacity
                        // error; RFC 6455 §7.4.1 has a close code for exactly that (1009).
                        if e.to_string().contains("Space limit exceeded") {
                            break Ending::Close(1009, "message too big");
                        }
                        break Ending::Gone;
                    }
                    Some(Ok(Message::Text(text))) => text,
                    Some(Ok(Message::Binary(_))) => {
                        last_activity = Instant::now();
                        // OCPP-J §3: messages are JSON in text frames; a binary frame is no readable
                        // message at all, classed like text that is not JSON.
                        let err = Frame::call_error(
                            UNKNOWN_UNIQUE_ID,
                            frame_error_code(version, FrameErrorKind::NotJson),
                            "OCPP-J messages are sent as websocket text frames",
                        );
                        if send(&mut socket, &err).await.is_err() {
                            break Ending::Gone;
                        }
                        continue;
                    }
                    Some(Ok(Message::Ping(_) | Message::Pong(_))) => {
                        last_activity = Instant::now();
                        continue;
                    }
                };
                last_activity = Instant::now();
                if let Some(answer) = on_text(&ctx, version, &text, &mut pending).await {
                    if send(&mut socket, &answer).await.is_err() {
                        break Ending::Gone;
                    }
                }
            }
            call = commands.recv() => match call {
                Some(call) => queue.push_back(call),
                None => break Ending::Close(1000, "closed"),
            },
            _ = async { sleep_until(deadline.unwrap_or_else(Instant::now)).await }, if deadline.is_some() => {
                if let Some(p) = pending.take() {
                    tracing::warn!(station = %ctx.station_id, action = p.action, "station did not answer in time");
                    let _ = p.reply.send(Err(CommandError::Timeout(settings.response_timeout.as_secs())));
                }
            }
            _ = ping.tick(), if ping_enabled => {
                // A station that stays silent through two ping intervals (no pong, no message) is
                // gone even if TCP has not noticed yet.
                if last_activity.elapsed() > settings.ping_interval * 2 {
                    tracing::info!(station = %ctx.station_id, "no pong within two ping intervals");
                    break Ending::Close(1001, "keepalive timeout");
                }
                if socket.send(Message::Ping(Vec::new().into())).await.is_err() {
                    break Ending::Gone;
                }
            }
        }
    };

    if let Ending::Close(code, reason) = ending {
        let _ = socket
            .send(Message::Close(Some(CloseFrame {
                code,
                reason: reason.into(),
            })))
            .await;
    }
    if let Some(p) = pending.take() {
        let _ = p.reply.send(Err(CommandError::Closed));
    }
    commands.close();
    while let Ok(call) = commands.try_recv() {
        queue.push_back(call);
    }
    for call in queue {
        let _ = call.reply.send(Err(CommandError::Closed));
    }
}

/// Sends a queued command; returns the pending entry, or `None` when the command could not be
/// expressed (its caller already has the error).
async fn start_call(
    socket: &mut WebSocket,
    version: OcppVersion,
    call: OutgoingCall,
    timeout: Duration,
) -> Result<Option<Pending>, ()> {
    let encoded = match version {
        OcppVersion::V16 => v16::commands::encode(&call.command),
        OcppVersion::V201 => v201::commands::encode(&call.command),
    };
    let (action, payload) = match encoded {
        Ok(x) => x,
        Err(e) => {
            let _ = call.reply.send(Err(e));
            return Ok(None);
        }
    };
    let unique_id = uuid::Uuid::new_v4().to_string();
    let frame = Frame::Call {
        unique_id: unique_id.clone(),
        action: action.to_owned(),
        payload,
    };
    if send(socket, &frame).await.is_err() {
        let _ = call.reply.send(Err(CommandError::Closed));
        return Err(());
    }
    Ok(Some(Pending {
        unique_id,
        action,
        command: call.command,
        reply: call.reply,
        deadline: Instant::now() + timeout,
    }))
}

/// Handles one text message; returns the frame to answer with, if any.
async fn on_text(
    ctx: &StationContext,
    version: OcppVersion,
    text: &str,
    pending: &mut Option<Pending>,
) -> Option<Frame> {
    let frame = match Frame::parse(text) {
        Ok(frame) => frame,
        Err(e) => {
            tracing::warn!(station = %ctx.station_id, detail = %e.detail, "malformed message");
            let code = frame_error_code(version, e.kind);
            let id = e.unique_id.as_deref().unwrap_or(UNKNOWN_UNIQUE_ID);
            return Some(Frame::call_error(id, code, e.detail));
        }
    };
    match frame {
        Frame::Call {
            unique_id,
            action,
            payload,
        } => {
            let result = match version {
                OcppVersion::V16 => v16::handle_call(ctx, &action, payload).await,
                OcppVersion::V201 => v201::handle_call(ctx, &action, payload).await,
            };
            Some(match result {
                Ok(payload) => Frame::CallResult { unique_id, payload },
                Err(failure) => {
                    tracing::info!(station = %ctx.station_id, %action, code = failure.code.as_str(), description = %failure.description, "CALLERROR");
                    Frame::call_error(&unique_id, failure.code, failure.description)
                }
            })
        }
        Frame::CallResult { unique_id, payload } => {
            match take_if_pending(pending, &unique_id) {
                Some(p) => {
                    let reply = match version {
                        OcppVersion::V16 => {
                            v16::commands::decode_reply(&ctx.station_id, p.action, payload)
                        }
                        OcppVersion::V201 => v201::commands::decode_reply(
                            &ctx.station_id,
                            p.action,
                            &p.command,
                            payload,
                        ),
                    };
                    let _ = p.reply.send(reply);
                }
                None => {
                    tracing::warn!(station = %ctx.station_id, %unique_id, "CALLRESULT for no pending call")
                }
            }
            None
        }
        Frame::CallError {
            unique_id,
            code,
            description,
            ..
        } => {
            match take_if_pending(pending, &unique_id) {
                Some(p) => {
                    let _ = p
                        .reply
                        .send(Err(CommandError::CallError { code, description }));
                }
                None => {
                    tracing::warn!(station = %ctx.station_id, %unique_id, %code, "CALLERROR for no pending call")
                }
            }
            None
        }
    }
}

/// Each version names the classes of malformed messages its own way.
fn frame_error_code(version: OcppVersion, kind: FrameErrorKind) -> ErrorCode {
    match version {
        OcppVersion::V16 => v16::frame_error_code(kind),
        OcppVersion::V201 => v201::frame_error_code(kind),
    }
}

fn take_if_pending(pending: &mut Option<Pending>, unique_id: &str) -> Option<Pending> {
    if pending.as_ref().is_some_and(|p| p.unique_id == unique_id) {
        pending.take()
    } else {
        None
    }
}

async fn send(socket: &mut WebSocket, frame: &Frame) -> Result<(), axum::Error> {
    socket.send(Message::Text(frame.to_text().into())).await
}
