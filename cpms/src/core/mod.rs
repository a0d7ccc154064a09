//! The CPMS core: stations, connectors, transactions, meter samples and id tokens, stored through
//! sea-orm, with a domain event published after each stored change.
//!
//! [`Core`] implements the gateway's [`StationBackend`]: every method returns only after its
//! effect is committed, so the CALLRESULT a station receives means the change is durable. The
//! operator API reads and writes through the same type.

mod authorization;
mod cdrs;
mod charging_profiles;
mod device_model;
mod local_lists;
mod locations;
mod ocpi_commands;
mod outbox;
mod partners;
mod reservations;
mod roaming_kpis;
mod roaming_tokens;
mod sessions;
mod stations;
mod tariffs;
mod transaction_events;
mod transactions;
mod usage;

use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use ocpp_gateway::port::{
    Admission, BackendError, BootDecision, BootInfo, ConnectionSecurity, DataTransferReply,
    MeterReport, OcppVersion, StationBackend, StatusReport, TokenVerdict, TransactionStart,
    TransactionStarted, TransactionStop,
};
use sea_orm::{DatabaseConnection, DbErr};

use crate::config::UnknownStations;
use crate::events::EventBus;

pub use authorization::{IdTokenRecord, IdTokenStatus};
pub use cdrs::{CdrRecord, UnbillableRecord};
pub use charging_profiles::ChargingProfileRecord;
pub use device_model::{DeviceVariableRecord, StationEventRecord};
pub use local_lists::{LocalListPlan, LocalListRecord};
pub use locations::{LocationEvseRecord, LocationRecord};
pub use ocpi_commands::{CommandSettings, OcpiCommands};
pub use reservations::{ReservationRecord, ReservationRequest};
pub use roaming_kpis::{AuthorizationKpis, PartnerDeliveries, RemoteStartKpis, RoamingKpis};
pub use stations::{ConnectorRecord, SecurityProfile, StationRecord, StationUpdate};
pub use transactions::{MeterSampleRecord, TransactionFilter, TransactionRecord, TransactionState};

/// A source of the current time; tests inject their own.
pub trait Clock: Send + Sync + 'static {
    /// Now.
    fn now(&self) -> DateTime<Utc>;
}

/// The wall clock.
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}

/// Policies the core applies to stations.
#[derive(Debug, Clone)]
pub struct CorePolicy {
    /// What to do with unknown station ids.
    pub unknown_stations: UnknownStations,
    /// Heartbeat interval for accepted stations (s).
    pub heartbeat_interval: u32,
    /// Retry interval for pending or rejected stations (s).
    pub boot_retry_interval: u32,
    /// How long a station may be offline before OCPI shows its EVSEs UNKNOWN: the delay of the
    /// pushes a disconnect writes.
    pub offline_grace: std::time::Duration,
    /// The least time between two OCPI Session PATCHes of one session while it charges.
    pub session_update_interval: std::time::Duration,
}

impl Default for CorePolicy {
    fn default() -> Self {
        CorePolicy {
            unknown_stations: UnknownStations::Accept,
            heartbeat_interval: 300,
            boot_retry_interval: 60,
            offline_grace: std::time::Duration::from_secs(300),
            session_update_interval: std::time::Duration::from_secs(60),
        }
    }
}

/// Errors of core operations.
#[derive(Debug, thiserror::Error)]
pub enum CoreError {
    /// The storage failed.
    #[error("database error: {0}")]
    Db(#[from] DbErr),
    /// The thing asked for does not exist.
    #[error("{0} not found")]
    NotFound(String),
    /// The request conflicts with what exists.
    #[error("{0}")]
    Conflict(String),
    /// The request is invalid.
    #[error("{0}")]
    Invalid(String),
}

impl From<CoreError> for BackendError {
    fn from(e: CoreError) -> Self {
        BackendError(e.to_string())
    }
}

/// The core service. Cheap to clone.
#[derive(Clone)]
pub struct Core {
    pub(crate) db: DatabaseConnection,
    pub(crate) events: EventBus,
    pub(crate) policy: Arc<CorePolicy>,
    pub(crate) clock: Arc<dyn Clock>,
    /// Notified after a commit that wrote OCPI push rows (`outbox.rs`).
    pub(crate) push_wake: Arc<tokio::sync::Notify>,
    /// Real-time authorization of roaming tokens, wired at start-up (`roaming_tokens.rs`).
    pub(crate) roaming:
        Arc<std::sync::OnceLock<Arc<dyn ocpi_bridge::port::tokens::RoamingAuthorizer>>>,
    /// Notified when roaming tokens or a local list changed (`local_lists.rs`, roaming sync).
    pub(crate) local_list_wake: Arc<tokio::sync::Notify>,
    /// One lock per station, held around plan, SendLocalList and record (`local_lists.rs`).
    pub(crate) local_list_locks: Arc<local_lists::LocalListLocks>,
    /// Roaming authorization outcomes since start-up (`roaming_kpis.rs`).
    pub(crate) roaming_authorizations: Arc<roaming_kpis::AuthorizationCounters>,
}

impl Core {
    /// A core over `db`, publishing to `events`.
    pub fn new(
        db: DatabaseConnection,
        events: EventBus,
        policy: CorePolicy,
        clock: Arc<dyn Clock>,
    ) -> Self {
        Core {
            db,
            events,
            policy: Arc::new(policy),
            clock,
            push_wake: Arc::new(tokio::sync::Notify::new()),
            roaming: Arc::new(std::sync::OnceLock::new()),
            local_list_wake: Arc::new(tokio::sync::Notify::new()),
            local_list_locks: Arc::default(),
            roaming_authorizations: Arc::default(),
        }
    }

    /// The database connection.
    pub fn db(&self) -> &DatabaseConnection {
        &self.db
    }

    /// The event bus.
    pub fn events(&self) -> &EventBus {
        &self.events
    }

    fn now(&self) -> DateTime<Utc> {
        self.clock.now()
    }

    fn offline_grace(&self) -> chrono::Duration {
        chrono::Duration::from_std(self.policy.offline_grace).unwrap_or(chrono::Duration::MAX)
    }
}

#[async_trait]
impl StationBackend for Core {
    async fn admit(
        &self,
        station_id: &str,
        password: Option<&str>,
        security: &ConnectionSecurity,
    ) -> Admission {
        match self.admission(station_id, password, security).await {
            Ok(admission) => admission,
            Err(e) => {
                // Fail closed: a station we cannot check does not get in.
                tracing::error!(station = %station_id, error = %e, "admission check failed");
                Admission::Refuse
            }
        }
    }

    async fn connected(&self, station_id: &str, version: OcppVersion) {
        if let Err(e) = self.station_connected(station_id, version).await {
            tracing::error!(station = %station_id, error = %e, "could not record connection");
        }
    }

    async fn disconnected(&self, station_id: &str) {
        if let Err(e) = self.station_disconnected(station_id).await {
            tracing::error!(station = %station_id, error = %e, "could not record disconnection");
        }
    }

    async fn boot(&self, station_id: &str, info: BootInfo) -> Result<BootDecision, BackendError> {
        Ok(self.station_booted(station_id, info).await?)
    }

    async fn heartbeat(&self, station_id: &str) -> Result<(), BackendError> {
        Ok(self.touch(station_id).await?)
    }

    async fn status(&self, station_id: &str, report: StatusReport) -> Result<(), BackendError> {
        Ok(self.record_status(station_id, report).await?)
    }

    async fn authorize(
        &self,
        _station_id: &str,
        id_token: &str,
    ) -> Result<TokenVerdict, BackendError> {
        Ok(self.verdict(id_token).await?)
    }

    async fn start_transaction(
        &self,
        station_id: &str,
        start: TransactionStart,
    ) -> Result<TransactionStarted, BackendError> {
        let reservation_id = start.reservation_id;
        let started = self.begin_transaction(station_id, start).await?;
        // OCPP 1.6 §5.13: a transaction started with a reservationId consumes the reservation.
        if let Some(reservation_id) = reservation_id {
            let tx = i32::try_from(started.transaction_id).ok();
            self.set_reservation_status(station_id, reservation_id, "Used", tx)
                .await?;
        }
        Ok(started)
    }

    async fn meter_values(
        &self,
        station_id: &str,
        report: MeterReport,
    ) -> Result<(), BackendError> {
        Ok(self.record_meter_values(station_id, report).await?)
    }

    async fn stop_transaction(
        &self,
        station_id: &str,
        stop: TransactionStop,
    ) -> Result<Option<TokenVerdict>, BackendError> {
        Ok(self.end_transaction(station_id, stop).await?)
    }

    async fn data_transfer(
        &self,
        station_id: &str,
        vendor_id: &str,
        message_id: Option<&str>,
        data: Option<&str>,
    ) -> Result<DataTransferReply, BackendError> {
        // No vendor extensions are known yet; OCPP 1.6 §4.3 says to answer UnknownVendorId.
        tracing::info!(station = %station_id, %vendor_id, message_id = ?message_id, data_len = data.map(str::len), "DataTransfer");
        Ok(DataTransferReply {
            status: "UnknownVendorId".into(),
            data: None,
        })
    }

    async fn firmware_status(
        &self,
        station_id: &str,
        status: &str,
        request_id: Option<i32>,
    ) -> Result<(), BackendError> {
        Ok(self
            .record_station_progress(station_id, Some(status), None, request_id)
            .await?)
    }

    async fn diagnostics_status(
        &self,
        station_id: &str,
        status: &str,
        request_id: Option<i32>,
    ) -> Result<(), BackendError> {
        Ok(self
            .record_station_progress(station_id, None, Some(status), request_id)
            .await?)
    }

    async fn reservation_status(
        &self,
        station_id: &str,
        reservation_id: i32,
        status: &str,
    ) -> Result<(), BackendError> {
        Ok(self
            .set_reservation_status(station_id, reservation_id, status, None)
            .await?)
    }

    async fn transaction_event(
        &self,
        station_id: &str,
        event: ocpp_gateway::port::TransactionEventReport,
    ) -> Result<Option<TokenVerdict>, BackendError> {
        let reservation = event
            .reservation_id
            .map(|r| (r, event.station_transaction_id.clone()));
        let verdict = self.apply_transaction_event(station_id, event).await?;
        // 2.0.1 H01: the TransactionEvent carrying reservationId consumes the reservation.
        if let Some((reservation_id, station_tx)) = reservation {
            self.reservation_used_by_station_tx(station_id, reservation_id, &station_tx)
                .await?;
        }
        Ok(verdict)
    }

    async fn device_report(
        &self,
        station_id: &str,
        variables: Vec<ocpp_gateway::port::DeviceVariable>,
    ) -> Result<(), BackendError> {
        Ok(self.record_device_variables(station_id, variables).await?)
    }

    async fn station_events(
        &self,
        station_id: &str,
        events: Vec<ocpp_gateway::port::StationEvent>,
    ) -> Result<(), BackendError> {
        Ok(self.record_station_events(station_id, events).await?)
    }
}
