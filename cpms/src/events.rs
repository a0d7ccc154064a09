//! Domain events: what happened in the CPMS, published after it is stored.
//!
//! Events travel on an in-process broadcast channel today; each is a self-contained, serialisable
//! envelope (id, time, station key) so a message broker can carry them later without a change of
//! shape. Subscribers that fall behind lose events: anything that must not miss one (the OCPI push
//! outbox) writes its own record in the same database transaction as the change instead.

use chrono::{DateTime, Utc};
use ocpp_gateway::port::ConnectorStatus;
use rust_decimal::Decimal;
use serde::Serialize;
use tokio::sync::broadcast;
use uuid::Uuid;

/// One published event.
#[derive(Debug, Clone, Serialize)]
pub struct EventEnvelope {
    /// Unique id, for de-duplication by consumers.
    pub id: Uuid,
    /// When the CPMS recorded it.
    pub recorded_at: DateTime<Utc>,
    /// The station it concerns (the partition key on a broker).
    pub station_id: String,
    /// What happened.
    pub event: DomainEvent,
}

/// What happened.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum DomainEvent {
    /// A station opened its websocket.
    StationConnected {
        /// `ocpp1.6`.
        protocol: String,
    },
    /// A station's websocket closed.
    StationDisconnected,
    /// A station booted and got this registration status.
    StationBooted {
        /// Accepted, Pending or Rejected.
        registration_status: String,
    },
    /// A connector (or the station, EVSE 0) changed status.
    StatusChanged {
        /// EVSE id.
        evse_id: i32,
        /// Connector id.
        connector_id: i32,
        /// Normalised status.
        status: ConnectorStatus,
        /// The status as the station sent it.
        source_status: String,
        /// Error code as sent.
        error_code: Option<String>,
        /// The station's timestamp of the change.
        at: DateTime<Utc>,
    },
    /// A transaction started.
    TransactionStarted {
        /// Transaction id.
        transaction_id: i32,
        /// EVSE id.
        evse_id: i32,
        /// Connector id.
        connector_id: i32,
        /// Id token that started it.
        id_token: String,
        /// Whether the token was accepted.
        authorization_status: String,
        /// Start time at the station.
        started_at: DateTime<Utc>,
    },
    /// New meter data for a running transaction.
    TransactionUpdated {
        /// Transaction id.
        transaction_id: i32,
        /// Energy delivered so far, in Wh.
        energy_wh: Decimal,
    },
    /// A transaction ended.
    TransactionEnded {
        /// Transaction id.
        transaction_id: i32,
        /// Energy delivered, in Wh.
        energy_wh: Decimal,
        /// Why it stopped.
        stop_reason: String,
        /// Stop time at the station.
        stopped_at: DateTime<Utc>,
    },
    /// Meter values were stored.
    MeterValues {
        /// EVSE id.
        evse_id: i32,
        /// Transaction they belong to, if any.
        transaction_id: Option<i32>,
        /// Number of sampled values stored.
        samples: usize,
    },
}

/// The in-process event channel.
#[derive(Clone)]
pub struct EventBus {
    sender: broadcast::Sender<EventEnvelope>,
}

impl Default for EventBus {
    fn default() -> Self {
        Self::new(4096)
    }
}

impl EventBus {
    /// A bus that buffers up to `capacity` events per subscriber.
    pub fn new(capacity: usize) -> Self {
        EventBus {
            sender: broadcast::channel(capacity).0,
        }
    }

    /// Receives every event published from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<EventEnvelope> {
        self.sender.subscribe()
    }

    /// Publishes an event; having no subscriber is fine.
    pub fn publish(&self, station_id: &str, event: DomainEvent) {
        let _ = self.sender.send(EventEnvelope {
            id: Uuid::new_v4(),
            recorded_at: Utc::now(),
            station_id: station_id.to_owned(),
            event,
        });
    }
}
