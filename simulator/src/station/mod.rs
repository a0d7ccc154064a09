//! One virtual station: a task that owns its websocket, its connectors and its settings, and
//! behaves like charger firmware. It boots (retrying when Pending or Rejected), heartbeats,
//! reports connector status, runs charging sessions, queues transaction messages while offline and
//! replays them in order, and answers the CSMS's calls. The wording of each message is the
//! version adapter's ([`crate::v16`], [`crate::v201`]); the conduct is here: the timers and the
//! answers to the CSMS in this file, the websocket in `connection`, the charging sessions from a
//! car's arrival to its departure in `sessions`.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::Value;
use tokio::net::TcpStream;
use tokio::sync::{mpsc, watch};
use tokio::time::{sleep_until, Instant};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

use crate::charging::{energy_wh, Limit};
use crate::clock::SimClock;
use crate::metrics::Metrics;
use crate::plan::{Behaviour, LoadPlan, MixItem};
use crate::store::ConfigStore;

mod connection;
mod sessions;

use connection::next_message;
pub use connection::ws_config;

/// How long a station waits for the answer to one of its CALLs before giving up on it.
const CALL_TIMEOUT: Duration = Duration::from_secs(30);

/// The OCPP version a station speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Protocol {
    /// OCPP 1.6J.
    #[serde(rename = "ocpp1.6")]
    V16,
    /// OCPP 2.0.1.
    #[serde(rename = "ocpp2.0.1")]
    V201,
}

impl Protocol {
    /// The websocket subprotocol.
    pub fn subprotocol(self) -> &'static str {
        match self {
            Protocol::V16 => "ocpp1.6",
            Protocol::V201 => "ocpp2.0.1",
        }
    }
}

/// Where and how one station connects, and what it does.
#[derive(Debug, Clone)]
pub struct StationSpec {
    /// Station id (the last path segment of the URL, and the Basic-auth user).
    pub id: String,
    /// Position in the fleet (0-based): seeds its randomness and its initial energy register.
    pub index: u32,
    /// Full websocket URL, station id included.
    pub url: String,
    /// OCPP version.
    pub protocol: Protocol,
    /// Basic-auth password (security profiles 1 and 2).
    pub password: Option<String>,
    /// TLS client configuration for `wss://`.
    pub tls: Option<Arc<rustls::ClientConfig>>,
    /// EVSEs.
    pub evses: u32,
    /// Connectors per EVSE.
    pub connectors_per_evse: u32,
    /// Sessions, faults, intervals.
    pub behaviour: Behaviour,
    /// Set in load runs.
    pub load: Option<LoadPlan>,
}

/// What a station tells its fleet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StationEvent {
    /// The station ran all its planned sessions and has nothing left to send.
    Done(String),
}

/// OCPP status of a connector, named as in 1.6 (the 2.0.1 adapter maps it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConnectorStatus {
    /// Free.
    Available,
    /// Car plugged in, not yet charging.
    Preparing,
    /// Charging.
    Charging,
    /// Session over, car still plugged in.
    Finishing,
    /// Held for a reservation.
    Reserved,
    /// Taken out of service by the CSMS.
    Unavailable,
    /// Broken.
    Faulted,
}

/// Why a session ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StopReason {
    /// The car left.
    EvDisconnected,
    /// The CSMS asked.
    Remote,
    /// A soft reset.
    SoftReset,
    /// A hard reset.
    HardReset,
    /// The CSMS did not accept the token.
    DeAuthorized,
    /// An unlock command.
    UnlockCommand,
    /// The connector failed.
    Other,
    /// The load run stops and starts sessions.
    Local,
}

/// How a session came about.
#[derive(Debug, Clone, PartialEq)]
pub enum Origin {
    /// A car arrived (scenario plan): authorize first.
    Plan,
    /// The CSMS started it (1.6 has no id; 2.0.1 remoteStartId).
    Remote(Option<i32>),
    /// Load mode.
    Load,
}

/// Where a session is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// Waiting for the Authorize answer.
    Authorizing,
    /// Transaction running.
    Charging,
}

/// One charging session on a connector.
#[derive(Debug, Clone)]
pub struct Session {
    /// Station-local key, tying queued messages to the CSMS transaction id (1.6).
    pub key: u64,
    /// The 2.0.1 transactionId.
    pub station_tx_id: String,
    /// Token presented.
    pub id_token: String,
    /// Where it is.
    pub phase: Phase,
    /// How it started.
    pub origin: Origin,
    /// Register at start (Wh).
    pub meter_start_wh: u64,
    /// Simulated seconds charged so far.
    pub elapsed_s: f64,
    /// Planned length (simulated seconds); infinite in load runs.
    pub planned_s: f64,
    /// Next meter value (None: driven by the load mix).
    pub next_meter: Option<Instant>,
    /// Meter values sent in this session.
    pub meter_values: u32,
    /// 2.0.1 seqNo of the next TransactionEvent.
    pub seq_no: i32,
    /// Reservation it uses.
    pub reservation_id: Option<i32>,
    /// Power drawn at the last meter value (W).
    pub power_w: f64,
    /// The CSMS accepted the token.
    pub authorized: bool,
}

/// One connector.
#[derive(Debug, Clone)]
pub struct Connector {
    /// EVSE (1-based).
    pub evse: u32,
    /// Connector within the EVSE (1-based).
    pub connector: u32,
    /// 1.6 connectorId (EVSE-major numbering over the station).
    pub global: u32,
    /// Status last reported.
    pub status: ConnectorStatus,
    /// Whether the CSMS wants it operative.
    pub operative: bool,
    /// Running session.
    pub session: Option<Session>,
    /// Energy register (Wh).
    pub register_wh: u64,
    /// Planned sessions still to run.
    pub sessions_left: u32,
    /// When the next planned car arrives.
    pub next_arrival: Option<Instant>,
    /// Reservation held: (id, token).
    pub reservation: Option<(i32, String)>,
    /// Faulted until.
    pub faulted_until: Option<Instant>,
    /// Charging-profile limits on this connector: (profile id, limit).
    pub limits: Vec<(i32, Limit)>,
}

/// What an outgoing CALL is for, so its answer can be applied.
#[derive(Debug, Clone, PartialEq)]
pub enum Purpose {
    /// BootNotification.
    Boot,
    /// Nothing to apply.
    Plain,
    /// Authorize before a planned session.
    Authorize {
        /// Connector index.
        connector: usize,
        /// Session key.
        key: u64,
    },
    /// The message that starts a transaction (1.6 StartTransaction, 2.0.1 Started).
    Start {
        /// Connector index.
        connector: usize,
        /// Session key.
        key: u64,
    },
    /// A 1.6 message needing the CSMS transaction id of a session (MeterValues, StopTransaction):
    /// filled in when sent, because a session started offline learns it only on replay.
    TxBound {
        /// Session key.
        key: u64,
        /// Whether this ends the transaction.
        stop: bool,
    },
}

/// A CALL waiting to be sent.
#[derive(Debug, Clone)]
pub struct Outgoing {
    /// Action.
    pub action: &'static str,
    /// Payload.
    pub payload: Value,
    /// Survives a lost connection (transaction messages; OCPP 1.6 §4.8 / 2.0.1 E04).
    pub durable: bool,
    /// What its answer is for.
    pub purpose: Purpose,
}

struct InFlight {
    id: String,
    sent_at: Instant,
    call: Outgoing,
}

type Socket = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// A virtual station. Build with [`Station::new`], run with [`Station::run`].
pub struct Station {
    /// Configuration.
    pub spec: StationSpec,
    /// Simulated time.
    pub clock: SimClock,
    /// Shared counters.
    pub metrics: Arc<Metrics>,
    /// Connectors, EVSE-major.
    pub connectors: Vec<Connector>,
    /// Settings (1.6 keys and 2.0.1 variables).
    pub store: ConfigStore,
    /// Local authorization list: version and token → status.
    pub local_list: (i32, HashMap<String, String>),
    /// Station-wide charging limits (profiles on connector / EVSE 0).
    pub station_limits: Vec<(i32, Limit)>,
    queue: VecDeque<Outgoing>,
    in_flight: Option<InFlight>,
    ws: Option<Socket>,
    registered: bool,
    boot_due: Option<Instant>,
    boot_reason_reset: bool,
    heartbeat_due: Option<Instant>,
    reconnect_at: Instant,
    offline_until: Option<Instant>,
    first_boot: Option<Instant>,
    pending_reset: Option<StopReason>,
    next_msg_id: u64,
    next_session_key: u64,
    tx_ids: HashMap<u64, i32>,
    rng: StdRng,
    fired_drop: bool,
    fired_offline: bool,
    fired_faulted: bool,
    fired_malformed: bool,
    load_due: Option<Instant>,
    token_turn: usize,
    done_sent: bool,
    ready_sent: bool,
    events: Option<mpsc::UnboundedSender<StationEvent>>,
    shutdown: watch::Receiver<bool>,
}

impl Station {
    /// A powered-off station.
    pub fn new(
        spec: StationSpec,
        clock: SimClock,
        metrics: Arc<Metrics>,
        shutdown: watch::Receiver<bool>,
        events: Option<mpsc::UnboundedSender<StationEvent>>,
    ) -> Station {
        let mut connectors = Vec::new();
        for evse in 1..=spec.evses.max(1) {
            for connector in 1..=spec.connectors_per_evse.max(1) {
                let global = connectors.len() as u32 + 1;
                connectors.push(Connector {
                    evse,
                    connector,
                    global,
                    status: ConnectorStatus::Available,
                    operative: true,
                    session: None,
                    register_wh: u64::from(spec.index) * 1000 + u64::from(global) * 100,
                    sessions_left: spec.behaviour.sessions.per_connector,
                    next_arrival: None,
                    reservation: None,
                    faulted_until: None,
                    limits: Vec::new(),
                });
            }
        }
        let store = ConfigStore::new(
            connectors.len() as u32,
            spec.behaviour.heartbeat_s,
            spec.behaviour.meter_interval_s,
        );
        let rng = StdRng::seed_from_u64(u64::from(spec.index) ^ 0x5eed);
        Station {
            spec,
            clock,
            metrics,
            connectors,
            store,
            local_list: (0, HashMap::new()),
            station_limits: Vec::new(),
            queue: VecDeque::new(),
            in_flight: None,
            ws: None,
            registered: false,
            boot_due: None,
            boot_reason_reset: false,
            heartbeat_due: None,
            reconnect_at: Instant::now(),
            offline_until: None,
            first_boot: None,
            pending_reset: None,
            next_msg_id: 1,
            next_session_key: 1,
            tx_ids: HashMap::new(),
            rng,
            fired_drop: false,
            fired_offline: false,
            fired_faulted: false,
            fired_malformed: false,
            load_due: None,
            token_turn: 0,
            done_sent: false,
            ready_sent: false,
            events,
            shutdown,
        }
    }

    /// Runs until the shutdown signal; reconnects after drops, offline periods and resets.
    pub async fn run(mut self) {
        loop {
            if *self.shutdown.borrow() {
                break;
            }
            let now = Instant::now();
            if self.ws.is_none()
                && now >= self.reconnect_at
                && self.offline_until.is_none_or(|t| now >= t)
            {
                self.offline_until = None;
                self.connect().await;
            }
            let deadline = self.next_deadline();
            tokio::select! {
                message = next_message(&mut self.ws) => match message {
                    Some(Ok(Message::Text(text))) => self.on_text(text.as_str()).await,
                    Some(Ok(Message::Close(_))) | Some(Err(_)) | None => {
                        self.lost_connection(self.spec.behaviour.reconnect_delay_s)
                    }
                    Some(Ok(_)) => {}
                },
                _ = sleep_until(deadline) => {},
                _ = self.shutdown.changed() => {},
            }
            self.on_timers(Instant::now());
            self.pump().await;
            self.check_done();
        }
        if let Some(mut ws) = self.ws.take() {
            let _ = tokio::time::timeout(Duration::from_secs(2), ws.close(None)).await;
            self.metrics.connected.fetch_sub(1, Ordering::Relaxed);
        }
    }

    fn next_deadline(&self) -> Instant {
        let far = Instant::now() + Duration::from_secs(3600);
        let mut at = far;
        let mut consider = |t: Option<Instant>| {
            if let Some(t) = t {
                at = at.min(t);
            }
        };
        consider(self.boot_due);
        consider(self.heartbeat_due);
        consider(self.load_due);
        consider(self.in_flight.as_ref().map(|f| f.sent_at + CALL_TIMEOUT));
        if self.ws.is_none() {
            consider(Some(
                self.reconnect_at
                    .max(self.offline_until.unwrap_or(self.reconnect_at)),
            ));
        }
        for c in &self.connectors {
            consider(c.next_arrival);
            consider(c.faulted_until);
            consider(c.session.as_ref().and_then(|s| s.next_meter));
        }
        if let (Some(boot), Some(f)) = (self.first_boot, &self.spec.behaviour.faults.offline) {
            if !self.fired_offline {
                consider(Some(self.clock.after(boot, f.at_s)));
            }
        }
        if let (Some(boot), Some(f)) = (self.first_boot, &self.spec.behaviour.faults.faulted) {
            if !self.fired_faulted {
                consider(Some(self.clock.after(boot, f.at_s)));
            }
        }
        at
    }

    fn on_timers(&mut self, now: Instant) {
        if let Some(f) = &self.in_flight {
            if now >= f.sent_at + CALL_TIMEOUT {
                let call = self.in_flight.take().map(|f| f.call);
                self.metrics
                    .call_error(call.as_ref().map(|c| c.action), "Timeout", CALL_TIMEOUT);
                match call {
                    // A transaction message must reach the CSMS: retransmit it.
                    Some(call) if call.durable => self.queue.push_front(call),
                    // An unanswered boot is asked again later, as after a CALLERROR.
                    Some(call) if call.purpose == Purpose::Boot && !self.registered => {
                        self.boot_due = Some(self.clock.after(now, 30.0));
                    }
                    _ => {}
                }
            }
        }
        if self.registered && self.heartbeat_due.is_some_and(|t| now >= t) {
            self.enqueue(self.msg_heartbeat());
            self.heartbeat_due = Some(self.clock.after(now, self.heartbeat_s()));
        }
        if let Some(boot) = self.first_boot {
            self.fault_timers(now, boot);
        }
        for i in 0..self.connectors.len() {
            if self.connectors[i].faulted_until.is_some_and(|t| now >= t) {
                self.connectors[i].faulted_until = None;
                self.set_status(i, ConnectorStatus::Available);
            }
            if self.connectors[i].next_arrival.is_some_and(|t| now >= t) {
                self.connectors[i].next_arrival = None;
                self.car_arrives(i);
            }
            let meter_due = self.connectors[i]
                .session
                .as_ref()
                .and_then(|s| s.next_meter)
                .is_some_and(|t| now >= t);
            if meter_due {
                self.meter_tick(i, now);
            }
        }
        if self.load_due.is_some_and(|t| now >= t) {
            self.load_step();
            let interval = self.spec.load.as_ref().map_or(1.0, |l| l.interval_s);
            self.load_due = Some(self.clock.after(now, interval));
        }
    }

    fn fault_timers(&mut self, now: Instant, boot: Instant) {
        if let Some(f) = self.spec.behaviour.faults.offline.clone() {
            if !self.fired_offline && now >= self.clock.after(boot, f.at_s) {
                self.fired_offline = true;
                self.metrics
                    .note(format!("{}: offline for {} s", self.spec.id, f.for_s));
                self.lost_connection(0.0);
                self.offline_until = Some(self.clock.after(now, f.for_s));
            }
        }
        if let Some(f) = self.spec.behaviour.faults.faulted.clone() {
            if !self.fired_faulted && now >= self.clock.after(boot, f.at_s) {
                self.fired_faulted = true;
                let i = (f.connector.max(1) as usize - 1).min(self.connectors.len() - 1);
                if self.connectors[i].session.is_some() {
                    self.end_session(i, StopReason::Other);
                }
                self.connectors[i].faulted_until = Some(self.clock.after(now, f.for_s));
                self.connectors[i].status = ConnectorStatus::Faulted;
                let msg = self.msg_status(i, Some(&f.error_code));
                self.enqueue(msg);
            }
        }
    }

    fn heartbeat_s(&self) -> f64 {
        self.store
            .seconds("HeartbeatInterval")
            .unwrap_or(300)
            .max(1) as f64
    }

    fn meter_interval_s(&self) -> f64 {
        self.store
            .seconds("MeterValueSampleInterval")
            .unwrap_or(60)
            .max(1) as f64
    }

    /// Queues a CALL at the back.
    pub fn enqueue(&mut self, call: Outgoing) {
        // A station that is offline keeps only what must survive; the rest is stale by the time
        // it could be sent (a real charger would not queue heartbeats or Authorize either).
        if self.ws.is_none() && !call.durable {
            return;
        }
        self.queue.push_back(call);
    }

    fn queue_status_front(&mut self, i: usize) {
        let msg = self.msg_status(i, None);
        self.queue.push_front(msg);
    }

    /// Sets and reports a connector's status.
    pub fn set_status(&mut self, i: usize, status: ConnectorStatus) {
        self.connectors[i].status = status;
        let msg = self.msg_status(i, None);
        self.enqueue(msg);
    }

    fn on_result(&mut self, call: Outgoing, payload: Value) {
        match call.purpose {
            Purpose::Boot => {
                let (status, interval) = match self.spec.protocol {
                    Protocol::V16 => crate::v16::boot_answer(&payload),
                    Protocol::V201 => crate::v201::boot_answer(&payload),
                };
                self.on_boot(&status, interval);
            }
            Purpose::Authorize { connector, key } => {
                let accepted = match self.spec.protocol {
                    Protocol::V16 => crate::calls::token_accepted(&payload["idTagInfo"]),
                    Protocol::V201 => crate::calls::token_accepted(&payload["idTokenInfo"]),
                };
                let same = self.connectors[connector]
                    .session
                    .as_ref()
                    .is_some_and(|s| s.key == key && s.phase == Phase::Authorizing);
                if !same {
                    return;
                }
                if accepted {
                    self.begin_transaction(connector);
                } else {
                    self.metrics
                        .note(format!("{}: token refused by Authorize", self.spec.id));
                    self.connectors[connector].session = None;
                    self.set_status(connector, ConnectorStatus::Available);
                    self.plan_next_car(connector);
                }
            }
            Purpose::Start { connector, key } => {
                let (tx_id, accepted) = match self.spec.protocol {
                    Protocol::V16 => (
                        payload["transactionId"].as_i64().map(|v| v as i32),
                        crate::calls::token_accepted(&payload["idTagInfo"]),
                    ),
                    Protocol::V201 => (
                        None,
                        payload
                            .get("idTokenInfo")
                            .is_none_or(crate::calls::token_accepted),
                    ),
                };
                if let Some(id) = tx_id {
                    self.tx_ids.insert(key, id);
                }
                let running = self.connectors[connector]
                    .session
                    .as_ref()
                    .is_some_and(|s| s.key == key);
                if running && !accepted {
                    if let Some(s) = self.connectors[connector].session.as_mut() {
                        s.authorized = false;
                    }
                    self.end_session(connector, StopReason::DeAuthorized);
                }
            }
            Purpose::TxBound { key, stop } => {
                if stop {
                    self.tx_ids.remove(&key);
                }
            }
            Purpose::Plain => {}
        }
    }

    fn on_boot(&mut self, status: &str, interval: u64) {
        let now = Instant::now();
        match status {
            "Accepted" => {
                self.registered = true;
                self.boot_reason_reset = false;
                if interval > 0 {
                    self.store
                        .set_key("HeartbeatInterval", &interval.to_string());
                }
                self.heartbeat_due = Some(self.clock.after(now, self.heartbeat_s()));
                for i in 0..self.connectors.len() {
                    let msg = self.msg_status(i, None);
                    self.queue.push_front(msg);
                }
                if let Protocol::V16 = self.spec.protocol {
                    // Connector 0: the charge point as a whole.
                    self.queue
                        .push_front(crate::v16::status_zero(self.clock.now()));
                }
                if self.first_boot.is_none() {
                    self.first_boot = Some(now);
                    let first = self.spec.behaviour.sessions.first_after_s;
                    for i in 0..self.connectors.len() {
                        if self.connectors[i].sessions_left > 0 {
                            let spread = self.jittered(first);
                            self.connectors[i].next_arrival = Some(self.clock.after(now, spread));
                        }
                    }
                }
                if self.spec.load.is_some() {
                    // After the first boot and after every reboot: one session runs, and the
                    // mix starts at a random offset so the fleet's messages spread evenly.
                    if self.connectors[0].session.is_none() {
                        self.start_session(0, self.load_token(), Origin::Load);
                    }
                    if !self.load_closed_loop() && self.load_due.is_none() {
                        let interval = self.spec.load.as_ref().map_or(1.0, |l| l.interval_s);
                        let first = self.rng.random_range(0.0..interval.max(0.001));
                        self.load_due = Some(self.clock.after(now, first));
                    }
                }
                // The queued transaction messages of a reboot or an offline period go first
                // after the status reports: they are already in the queue, in order.
            }
            _ => {
                // Pending or Rejected: ask again after the interval the CSMS gave (B02/B03).
                let wait = if interval > 0 { interval as f64 } else { 60.0 };
                self.boot_due = Some(self.clock.after(now, wait));
                self.metrics.note(format!(
                    "{}: boot {status}, retrying in {wait} s",
                    self.spec.id
                ));
            }
        }
    }

    fn reason_text(&self, reason: StopReason) -> &'static str {
        match self.spec.protocol {
            Protocol::V16 => crate::v16::stop_reason(reason),
            Protocol::V201 => crate::v201::stopped_reason(reason),
        }
    }

    /// Schedules a reboot after the Reset answer went out.
    pub fn schedule_reset(&mut self, reason: StopReason) {
        for i in 0..self.connectors.len() {
            if self.connectors[i].session.is_some() {
                self.end_session(i, reason);
            }
        }
        self.pending_reset = Some(reason);
    }

    async fn reboot(&mut self, _reason: StopReason) {
        if let Some(mut ws) = self.ws.take() {
            let _ = tokio::time::timeout(Duration::from_secs(2), ws.close(None)).await;
            self.metrics.connected.fetch_sub(1, Ordering::Relaxed);
        }
        self.in_flight = None;
        self.queue.retain(|c| c.durable);
        self.registered = false;
        self.boot_reason_reset = true;
        self.heartbeat_due = None;
        self.load_due = None;
        // Power-cycling takes a moment.
        self.reconnect_at = self.clock.after(Instant::now(), 2.0);
    }

    /// Whether the last boot followed a Reset (the 2.0.1 boot reason).
    pub fn rebooted(&self) -> bool {
        self.boot_reason_reset
    }

    /// A frame that is not valid OCPP-J, sent once to see the CSMS cope.
    async fn send_malformed(&mut self) {
        self.fired_malformed = true;
        self.send_text("[2,\"malformed-1\",\"Heartbeat\",{".to_owned())
            .await;
    }

    fn malformed_due(&self) -> bool {
        self.spec.behaviour.faults.malformed_frame && !self.fired_malformed && self.registered
    }

    fn check_done(&mut self) {
        if self.done_sent || self.spec.load.is_some() || self.first_boot.is_none() {
            return;
        }
        if self.malformed_due() {
            return;
        }
        let idle = self.connectors.iter().all(|c| {
            c.session.is_none()
                && c.sessions_left == 0
                && c.faulted_until.is_none()
                && c.next_arrival.is_none()
        });
        let faults_pending = (self.spec.behaviour.faults.offline.is_some() && !self.fired_offline)
            || (self.spec.behaviour.faults.faulted.is_some() && !self.fired_faulted);
        if idle
            && !faults_pending
            && self.queue.is_empty()
            && self.in_flight.is_none()
            && self.ws.is_some()
            && self.registered
            && self.pending_reset.is_none()
        {
            self.done_sent = true;
            if let Some(events) = &self.events {
                let _ = events.send(StationEvent::Done(self.spec.id.clone()));
            }
        }
    }

    fn load_closed_loop(&self) -> bool {
        self.spec.load.as_ref().is_some_and(|l| l.interval_s <= 0.0)
    }

    fn load_step(&mut self) {
        let Some(load) = self.spec.load.clone() else {
            return;
        };
        if !self.registered || self.ws.is_none() {
            return;
        }
        let roll = self.rng.random_range(0..load.mix.total().max(1));
        match load.mix.pick(roll) {
            MixItem::Heartbeat => {
                let msg = self.msg_heartbeat();
                self.enqueue(msg);
            }
            MixItem::Status => {
                let msg = self.msg_status(0, None);
                self.enqueue(msg);
            }
            MixItem::Authorize => {
                let msg = self.msg_authorize(&load.id_token, Purpose::Plain);
                self.enqueue(msg);
            }
            MixItem::MeterValues => {
                if self.connectors[0].session.is_none() {
                    self.start_session(0, load.id_token.clone(), Origin::Load);
                    return;
                }
                let now = Instant::now();
                let step = self.meter_interval_s();
                let cap = self.cap_w(0);
                let curve = self.spec.behaviour.curve();
                if let Some(s) = self.connectors[0].session.as_mut() {
                    let power = curve.power_at(s.elapsed_s + step, s.planned_s).min(cap);
                    s.elapsed_s += step;
                    s.power_w = power;
                    s.meter_values += 1;
                    self.connectors[0].register_wh += energy_wh(power, step);
                }
                let _ = now;
                let msg = self.msg_meter(0);
                self.enqueue(msg);
            }
            MixItem::Transaction => {
                if self.connectors[0].session.is_some() {
                    self.end_session(0, StopReason::Local);
                } else {
                    self.start_session(0, load.id_token.clone(), Origin::Load);
                }
            }
        }
    }

    // The wording of each message is the version adapter's.

    fn msg_boot(&self) -> Outgoing {
        let payload = match self.spec.protocol {
            Protocol::V16 => crate::v16::boot(&self.spec),
            Protocol::V201 => crate::v201::boot(&self.spec, self.boot_reason_reset),
        };
        Outgoing {
            action: "BootNotification",
            payload,
            durable: false,
            purpose: Purpose::Boot,
        }
    }

    fn msg_heartbeat(&self) -> Outgoing {
        Outgoing {
            action: "Heartbeat",
            payload: serde_json::json!({}),
            durable: false,
            purpose: Purpose::Plain,
        }
    }

    /// The StatusNotification of connector `i` as it is now.
    pub fn msg_status(&self, i: usize, error_code: Option<&str>) -> Outgoing {
        let at = self.clock.now();
        let payload = match self.spec.protocol {
            Protocol::V16 => crate::v16::status(&self.connectors[i], error_code, at),
            Protocol::V201 => crate::v201::status(&self.connectors[i], at),
        };
        Outgoing {
            action: "StatusNotification",
            payload,
            durable: false,
            purpose: Purpose::Plain,
        }
    }

    fn msg_authorize(&self, token: &str, purpose: Purpose) -> Outgoing {
        let payload = match self.spec.protocol {
            Protocol::V16 => crate::v16::authorize(token),
            Protocol::V201 => crate::v201::authorize(token),
        };
        Outgoing {
            action: "Authorize",
            payload,
            durable: false,
            purpose,
        }
    }

    fn msg_start(&mut self, i: usize) -> Outgoing {
        let at = self.clock.now();
        let key = self.connectors[i].session.as_ref().map_or(0, |s| s.key);
        let (action, payload) = match self.spec.protocol {
            Protocol::V16 => (
                "StartTransaction",
                crate::v16::start(&self.connectors[i], at),
            ),
            Protocol::V201 => (
                "TransactionEvent",
                crate::v201::started(&mut self.connectors[i], at),
            ),
        };
        Outgoing {
            action,
            payload,
            durable: true,
            purpose: Purpose::Start { connector: i, key },
        }
    }

    fn msg_meter(&mut self, i: usize) -> Outgoing {
        let at = self.clock.now();
        let key = self.connectors[i].session.as_ref().map_or(0, |s| s.key);
        match self.spec.protocol {
            Protocol::V16 => Outgoing {
                action: "MeterValues",
                payload: crate::v16::meter_values(&self.connectors[i], at),
                durable: true,
                purpose: Purpose::TxBound { key, stop: false },
            },
            Protocol::V201 => Outgoing {
                action: "TransactionEvent",
                payload: crate::v201::updated(&mut self.connectors[i], at),
                durable: true,
                purpose: Purpose::Plain,
            },
        }
    }

    fn msg_stop(&mut self, i: usize, reason: StopReason) -> Outgoing {
        let at = self.clock.now();
        let key = self.connectors[i].session.as_ref().map_or(0, |s| s.key);
        match self.spec.protocol {
            Protocol::V16 => Outgoing {
                action: "StopTransaction",
                payload: crate::v16::stop(&self.connectors[i], reason, at),
                durable: true,
                purpose: Purpose::TxBound { key, stop: true },
            },
            Protocol::V201 => Outgoing {
                action: "TransactionEvent",
                payload: crate::v201::ended(&mut self.connectors[i], reason, at),
                durable: true,
                purpose: Purpose::Plain,
            },
        }
    }

    /// The connector index of the session with CSMS transaction id `tx_id` (1.6).
    pub fn connector_of_tx(&self, tx_id: i32) -> Option<usize> {
        self.connectors.iter().position(|c| {
            c.session
                .as_ref()
                .is_some_and(|s| self.tx_ids.get(&s.key) == Some(&tx_id))
        })
    }

    /// The connector index of the session with 2.0.1 transactionId `id`.
    pub fn connector_of_station_tx(&self, id: &str) -> Option<usize> {
        self.connectors
            .iter()
            .position(|c| c.session.as_ref().is_some_and(|s| s.station_tx_id == id))
    }

    /// The time the station believes it is.
    pub fn now(&self) -> DateTime<Utc> {
        self.clock.now()
    }

    /// Queues a message the CSMS asked for with TriggerMessage.
    pub fn trigger(&mut self, what: Triggered, connector: Option<usize>) {
        match what {
            Triggered::Boot => {
                let msg = self.msg_boot();
                self.enqueue(msg);
            }
            Triggered::Heartbeat => {
                let msg = self.msg_heartbeat();
                self.enqueue(msg);
            }
            Triggered::Status => {
                let targets: Vec<usize> = match connector {
                    Some(i) => vec![i],
                    None => (0..self.connectors.len()).collect(),
                };
                for i in targets {
                    let msg = self.msg_status(i, None);
                    self.enqueue(msg);
                }
            }
            Triggered::MeterValues => {
                let targets: Vec<usize> = match connector {
                    Some(i) => vec![i],
                    None => (0..self.connectors.len()).collect(),
                };
                for i in targets {
                    if self.connectors[i]
                        .session
                        .as_ref()
                        .is_some_and(|s| s.phase == Phase::Charging)
                    {
                        let msg = self.msg_meter(i);
                        self.enqueue(msg);
                    }
                }
            }
        }
    }
}

/// Messages TriggerMessage can ask for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Triggered {
    /// BootNotification.
    Boot,
    /// Heartbeat.
    Heartbeat,
    /// StatusNotification.
    Status,
    /// MeterValues / TransactionEvent Updated.
    MeterValues,
}

/// A CALLERROR a version adapter answers with.
#[derive(Debug)]
pub struct CallFailure {
    /// OCPP-J error code.
    pub code: &'static str,
    /// Free text.
    pub description: String,
}

impl CallFailure {
    /// `NotImplemented` for an action the station does not know.
    pub fn not_implemented(action: &str) -> CallFailure {
        CallFailure {
            code: "NotImplemented",
            description: format!("{action} is not implemented by this station"),
        }
    }
}
