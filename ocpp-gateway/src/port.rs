//! The port between the gateway and the core: what the gateway asks of the CPMS, in words that belong
//! to no OCPP version.
//!
//! The version adapters (`v16`, later `v201`) translate wire payloads into these types and the answers
//! back; the core implements [`StationBackend`] and never sees a wire format. Every answer the backend
//! gives is durable: the gateway only sends a CALLRESULT after the backend returned `Ok`.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

mod charging;
pub use charging::{
    ChargingProfile, ChargingProfileCriteria, ChargingProfileKind, ChargingProfilePurpose,
    ChargingRateUnit, ChargingSchedule, ChargingSchedulePeriod, CompositeSchedule, RecurrencyKind,
    MAX_SCHEDULE_PERIODS,
};

/// The OCPP version a station speaks on its current connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum OcppVersion {
    /// OCPP 1.6J, websocket subprotocol `ocpp1.6`.
    #[serde(rename = "ocpp1.6")]
    V16,
    /// OCPP 2.0.1, websocket subprotocol `ocpp2.0.1`.
    #[serde(rename = "ocpp2.0.1")]
    V201,
}

impl OcppVersion {
    /// The websocket subprotocol name of this version.
    pub fn subprotocol(self) -> &'static str {
        match self {
            OcppVersion::V16 => "ocpp1.6",
            OcppVersion::V201 => "ocpp2.0.1",
        }
    }
}

/// The outcome of the handshake check for a station id and its (optional) Basic-auth password.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Admission {
    /// Let the station upgrade to a websocket.
    Admit,
    /// Refuse the upgrade with HTTP 401.
    Refuse,
}

/// What the transport of a connection proves, as the handshake check needs it: the OCPP security
/// profiles (OCPP 1.6 security whitepaper; OCPP 2.0.1 part 2 A00.FR) differ only in this and in
/// whether Basic auth is required.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ConnectionSecurity {
    /// The websocket runs over TLS (`wss://`), terminated by the gateway.
    pub tls: bool,
    /// Subject CN of the client certificate, present only when the station sent one and it chains
    /// to the configured CA (the TLS handshake verified it).
    pub client_cert_cn: Option<String>,
}

/// Registration status answered to a BootNotification.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum RegistrationStatus {
    /// The station may operate.
    Accepted,
    /// The CPMS wants to configure the station before accepting it.
    Pending,
    /// The station is refused.
    Rejected,
}

/// What a station says about itself when it boots.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct BootInfo {
    /// Vendor name.
    pub vendor: String,
    /// Model name.
    pub model: String,
    /// Serial number of the station, if sent.
    pub serial_number: Option<String>,
    /// Firmware version, if sent.
    pub firmware_version: Option<String>,
    /// ICCID of the modem, if sent.
    pub iccid: Option<String>,
    /// IMSI of the modem, if sent.
    pub imsi: Option<String>,
    /// Serial number of the main meter, if sent.
    pub meter_serial_number: Option<String>,
    /// Type of the main meter, if sent.
    pub meter_type: Option<String>,
}

/// The CPMS's answer to a boot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BootDecision {
    /// Accepted, Pending or Rejected.
    pub status: RegistrationStatus,
    /// Heartbeat interval when accepted; retry interval otherwise (seconds).
    pub interval_secs: u32,
}

/// Where on a station something happened: the 2.0.1 EVSE model, into which 1.6 maps (a 1.6
/// connectorId N is EVSE N with connector 1; connectorId 0 is the station itself, EVSE 0).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct EvseRef {
    /// EVSE id; 0 is the station as a whole.
    pub evse_id: i32,
    /// Connector id within the EVSE; 0 when the EVSE as a whole is meant.
    pub connector_id: i32,
}

impl EvseRef {
    /// The EVSE reference for an OCPP 1.6 connectorId.
    pub fn from_v16_connector(connector_id: u32) -> Self {
        let evse_id = i32::try_from(connector_id).unwrap_or(i32::MAX);
        if evse_id == 0 {
            EvseRef {
                evse_id: 0,
                connector_id: 0,
            }
        } else {
            EvseRef {
                evse_id,
                connector_id: 1,
            }
        }
    }

    /// The OCPP 1.6 connectorId that addresses this EVSE.
    pub fn v16_connector_id(self) -> u32 {
        u32::try_from(self.evse_id).unwrap_or(0)
    }
}

/// Normalised connector status: one model for every OCPP version. The source value is kept beside it
/// in [`StatusReport`], so nothing of what the station said is lost.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ConnectorStatus {
    /// Free for a new session.
    Available,
    /// A vehicle or user is being prepared for (1.6 Preparing).
    Preparing,
    /// Energy is flowing.
    Charging,
    /// Vehicle is connected but suspended the charge.
    SuspendedEv,
    /// The station suspended the charge.
    SuspendedEvse,
    /// The session ended, the cable is still connected.
    Finishing,
    /// Reserved for a driver.
    Reserved,
    /// Taken out of service (by the operator or the station).
    Unavailable,
    /// Broken.
    Faulted,
    /// In use without more detail (2.0.1 Occupied).
    Occupied,
}

/// A status notification from a station.
#[derive(Debug, Clone, PartialEq)]
pub struct StatusReport {
    /// Which EVSE and connector.
    pub evse: EvseRef,
    /// Normalised status.
    pub status: ConnectorStatus,
    /// The status exactly as the station sent it.
    pub source_status: String,
    /// Error code as sent (`NoError` when all is well).
    pub error_code: Option<String>,
    /// Free-text info.
    pub info: Option<String>,
    /// Vendor id for the vendor error code.
    pub vendor_id: Option<String>,
    /// Vendor-specific error code.
    pub vendor_error_code: Option<String>,
    /// When the status changed at the station.
    pub timestamp: DateTime<Utc>,
}

/// Authorization verdict on an id token.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum AuthorizationStatus {
    /// Allowed to charge.
    Accepted,
    /// Known but blocked.
    Blocked,
    /// Known but past its expiry date.
    Expired,
    /// Unknown or otherwise not allowed.
    Invalid,
    /// Already in use in another transaction, and not allowed concurrently.
    ConcurrentTx,
}

/// The full answer on an id token: verdict, expiry and group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenVerdict {
    /// Verdict.
    pub status: AuthorizationStatus,
    /// Until when the station may cache the verdict.
    pub expiry_date: Option<DateTime<Utc>>,
    /// Group (parent) id token.
    pub group_id_token: Option<String>,
}

impl TokenVerdict {
    /// A plain verdict without expiry or group.
    pub fn plain(status: AuthorizationStatus) -> Self {
        TokenVerdict {
            status,
            expiry_date: None,
            group_id_token: None,
        }
    }
}

/// One sampled value of a meter reading.
#[derive(Debug, Clone, PartialEq)]
pub struct SampledValue {
    /// The value exactly as sent (a decimal string, or raw data for signed values).
    pub value: String,
    /// Measurand, e.g. `Energy.Active.Import.Register` (the OCPP default when absent).
    pub measurand: String,
    /// Phase, when sent.
    pub phase: Option<String>,
    /// Unit, e.g. `Wh` (the OCPP default when absent).
    pub unit: Option<String>,
    /// Reading context, e.g. `Sample.Periodic`.
    pub context: Option<String>,
    /// Location, e.g. `Outlet`.
    pub location: Option<String>,
    /// `Raw` or `SignedData`.
    pub format: Option<String>,
}

/// Sampled values taken at one moment.
#[derive(Debug, Clone, PartialEq)]
pub struct MeterReading {
    /// When the values were sampled.
    pub timestamp: DateTime<Utc>,
    /// The values.
    pub values: Vec<SampledValue>,
}

/// A MeterValues message: readings of one EVSE, optionally bound to a transaction.
#[derive(Debug, Clone, PartialEq)]
pub struct MeterReport {
    /// Which EVSE.
    pub evse: EvseRef,
    /// The station's transaction id, when the readings belong to one.
    pub transaction_id: Option<i64>,
    /// The readings.
    pub readings: Vec<MeterReading>,
}

/// A transaction start as the station reports it.
#[derive(Debug, Clone, PartialEq)]
pub struct TransactionStart {
    /// Which EVSE.
    pub evse: EvseRef,
    /// The id token that started it.
    pub id_token: String,
    /// Energy register at start, in Wh.
    pub meter_start_wh: Decimal,
    /// Reservation the transaction consumes, if any.
    pub reservation_id: Option<i32>,
    /// Start time at the station.
    pub timestamp: DateTime<Utc>,
}

/// The CPMS's answer to a transaction start.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TransactionStarted {
    /// The transaction id the station must use from now on.
    pub transaction_id: i64,
    /// Verdict on the id token.
    pub verdict: TokenVerdict,
}

/// A transaction stop as the station reports it.
#[derive(Debug, Clone, PartialEq)]
pub struct TransactionStop {
    /// The transaction id the CPMS gave at start.
    pub transaction_id: i64,
    /// The id token that stopped it, when different from the starter or sent.
    pub id_token: Option<String>,
    /// Energy register at stop, in Wh.
    pub meter_stop_wh: Decimal,
    /// Stop time at the station.
    pub timestamp: DateTime<Utc>,
    /// Why it stopped (`Local` when the station omits it).
    pub reason: String,
    /// Meter readings collected during the transaction (1.6 transactionData).
    pub readings: Vec<MeterReading>,
}

/// The answer to a DataTransfer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DataTransferReply {
    /// `Accepted`, `Rejected`, `UnknownMessageId` or `UnknownVendorId`.
    pub status: String,
    /// Optional data returned.
    pub data: Option<String>,
}

/// The three kinds of 2.0.1 TransactionEvent (OCPP 2.0.1 E01-E15).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum TransactionEventKind {
    /// The first event of a transaction.
    Started,
    /// Anything between start and end.
    Updated,
    /// The last event of a transaction.
    Ended,
}

/// One TransactionEvent as the station sent it. Events may arrive late (after an offline period),
/// twice, or out of order; `seq_no` orders them and, with the station's transaction id, identifies
/// each one.
#[derive(Debug, Clone, PartialEq)]
pub struct TransactionEventReport {
    /// Started, Updated or Ended.
    pub kind: TransactionEventKind,
    /// The station's own transaction id (2.0.1 transactionInfo.transactionId).
    pub station_transaction_id: String,
    /// The station's sequence number of this event (0, 1, 2, ... per station).
    pub seq_no: i64,
    /// When the event happened at the station.
    pub timestamp: DateTime<Utc>,
    /// Why the event was sent (2.0.1 triggerReason), verbatim.
    pub trigger_reason: String,
    /// Whether the event happened while the station was offline.
    pub offline: bool,
    /// Which EVSE and connector, when sent (required in the first event of a transaction).
    pub evse: Option<EvseRef>,
    /// The id token, when sent (only when it changed or was authorised).
    pub id_token: Option<String>,
    /// Charging state (`Charging`, `EVConnected`, `SuspendedEV`, ...), when sent.
    pub charging_state: Option<String>,
    /// Why the transaction stopped, when sent (normally in Ended).
    pub stopped_reason: Option<String>,
    /// The remoteStartId of the RequestStartTransaction that started it, when sent.
    pub remote_start_id: Option<i32>,
    /// Reservation the transaction consumes, when sent.
    pub reservation_id: Option<i32>,
    /// Meter readings sent with the event.
    pub readings: Vec<MeterReading>,
}

/// One variable of a station's device model (2.0.1 NotifyReport reportData, one entry per
/// attribute).
#[derive(Debug, Clone, PartialEq)]
pub struct DeviceVariable {
    /// Component name, e.g. `OCPPCommCtrlr`.
    pub component: String,
    /// Component instance, when the component has several.
    pub component_instance: Option<String>,
    /// EVSE (and connector) the component belongs to, when it is per EVSE.
    pub evse: Option<EvseRef>,
    /// Variable name, e.g. `HeartbeatInterval`.
    pub variable: String,
    /// Variable instance, when the variable has several.
    pub variable_instance: Option<String>,
    /// Attribute type: `Actual`, `Target`, `MinSet` or `MaxSet`.
    pub attribute_type: String,
    /// The attribute's value, when readable.
    pub value: Option<String>,
    /// `ReadOnly`, `WriteOnly` or `ReadWrite`.
    pub mutability: Option<String>,
    /// Whether the value survives a reboot.
    pub persistent: Option<bool>,
    /// Whether the value never changes.
    pub constant: Option<bool>,
    /// Data type (`string`, `decimal`, `integer`, `dateTime`, `boolean`, `OptionList`, ...).
    pub data_type: Option<String>,
    /// Unit of the value.
    pub unit: Option<String>,
    /// Lower limit of a numeric value, as a decimal string.
    pub min_limit: Option<String>,
    /// Upper limit of a numeric value, as a decimal string.
    pub max_limit: Option<String>,
    /// Allowed values of a list type, comma separated.
    pub values_list: Option<String>,
    /// Whether the variable can be monitored.
    pub supports_monitoring: Option<bool>,
}

/// Something a station reports that happened to it: a 2.0.1 NotifyEvent entry or a
/// SecurityEventNotification.
#[derive(Debug, Clone, PartialEq)]
pub struct StationEvent {
    /// `NotifyEvent` or `SecurityEventNotification`.
    pub source: String,
    /// The station's event id (NotifyEvent only).
    pub event_id: Option<i32>,
    /// The security event type, or the NotifyEvent trigger (`Alerting`, `Delta`, `Periodic`).
    pub event_type: String,
    /// When it happened at the station.
    pub timestamp: DateTime<Utc>,
    /// Component concerned (NotifyEvent).
    pub component: Option<String>,
    /// Variable concerned (NotifyEvent).
    pub variable: Option<String>,
    /// The variable's value that caused the event (NotifyEvent).
    pub actual_value: Option<String>,
    /// Technical code (NotifyEvent).
    pub tech_code: Option<String>,
    /// Technical detail.
    pub tech_info: Option<String>,
    /// Whether the event condition has cleared (NotifyEvent).
    pub cleared: Option<bool>,
    /// The station's transaction id the event relates to (NotifyEvent).
    pub station_transaction_id: Option<String>,
    /// Everything else the station sent about the event, as JSON.
    pub details: Option<serde_json::Value>,
}

/// Why the backend could not handle a message. The gateway answers with a CALLERROR
/// (`InternalError`) and the station retries: nothing was stored.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct BackendError(pub String);

/// What the gateway needs from the core. Implemented by the CPMS core; each method returns only
/// after its effect is stored.
#[async_trait]
pub trait StationBackend: Send + Sync + 'static {
    /// Handshake check: may `station_id` connect, given the Basic-auth password it presented and
    /// the transport it came over (TLS or not, and the verified client certificate's subject CN)?
    async fn admit(
        &self,
        station_id: &str,
        password: Option<&str>,
        security: &ConnectionSecurity,
    ) -> Admission;
    /// A websocket for `station_id` is open and speaks `version`.
    async fn connected(&self, station_id: &str, version: OcppVersion);
    /// The websocket of `station_id` closed, and no newer connection replaced it.
    async fn disconnected(&self, station_id: &str);
    /// BootNotification.
    async fn boot(&self, station_id: &str, info: BootInfo) -> Result<BootDecision, BackendError>;
    /// Heartbeat (and any other sign of life the station gives).
    async fn heartbeat(&self, station_id: &str) -> Result<(), BackendError>;
    /// StatusNotification.
    async fn status(&self, station_id: &str, report: StatusReport) -> Result<(), BackendError>;
    /// Authorize: the one authorization question of the CPMS.
    async fn authorize(
        &self,
        station_id: &str,
        id_token: &str,
    ) -> Result<TokenVerdict, BackendError>;
    /// StartTransaction; a retransmission of the same start must yield the same transaction id.
    async fn start_transaction(
        &self,
        station_id: &str,
        start: TransactionStart,
    ) -> Result<TransactionStarted, BackendError>;
    /// MeterValues.
    async fn meter_values(&self, station_id: &str, report: MeterReport)
        -> Result<(), BackendError>;
    /// StopTransaction; accepted for an unknown or already-stopped transaction.
    async fn stop_transaction(
        &self,
        station_id: &str,
        stop: TransactionStop,
    ) -> Result<Option<TokenVerdict>, BackendError>;
    /// DataTransfer from the station.
    async fn data_transfer(
        &self,
        station_id: &str,
        vendor_id: &str,
        message_id: Option<&str>,
        data: Option<&str>,
    ) -> Result<DataTransferReply, BackendError>;
    /// FirmwareStatusNotification, with the requestId of the UpdateFirmware it reports on (2.0.1
    /// only).
    async fn firmware_status(
        &self,
        station_id: &str,
        status: &str,
        request_id: Option<i32>,
    ) -> Result<(), BackendError>;
    /// DiagnosticsStatusNotification (1.6) / LogStatusNotification (2.0.1), with the requestId of
    /// the GetLog it reports on (2.0.1 only).
    async fn diagnostics_status(
        &self,
        station_id: &str,
        status: &str,
        request_id: Option<i32>,
    ) -> Result<(), BackendError>;
    /// 2.0.1 ReservationStatusUpdate: a reservation `Expired` or was `Removed` at the station.
    async fn reservation_status(
        &self,
        station_id: &str,
        reservation_id: i32,
        status: &str,
    ) -> Result<(), BackendError>;
    /// 2.0.1 TransactionEvent; stored once per (station, transaction id, seqNo), so a replayed
    /// event is answered without effect. Returns the verdict when the event carried an id token.
    async fn transaction_event(
        &self,
        station_id: &str,
        event: TransactionEventReport,
    ) -> Result<Option<TokenVerdict>, BackendError>;
    /// 2.0.1 NotifyReport: part of the station's device model (upserted per variable attribute).
    async fn device_report(
        &self,
        station_id: &str,
        variables: Vec<DeviceVariable>,
    ) -> Result<(), BackendError>;
    /// 2.0.1 NotifyEvent and SecurityEventNotification.
    async fn station_events(
        &self,
        station_id: &str,
        events: Vec<StationEvent>,
    ) -> Result<(), BackendError>;
}

/// A CSMS-initiated request to a station, as the operator asks for it. The version adapter turns it
/// into the station's own action.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "command", rename_all = "snake_case")]
pub enum Command {
    /// Start a transaction for `id_token`, on `evse` when given.
    RemoteStart {
        /// EVSE to start on; the station picks one when absent.
        evse: Option<EvseRef>,
        /// Token to start for.
        id_token: String,
        /// The id the station will echo in the transaction it starts (2.0.1 remoteStartId;
        /// 1.6 has none). Chosen by the caller, so the core can find the transaction later.
        #[serde(default)]
        remote_start_id: Option<i32>,
    },
    /// Stop a transaction.
    RemoteStop {
        /// The CPMS transaction id (what 1.6 stations know).
        transaction_id: i64,
        /// The station's own transaction id (what 2.0.1 stations know), filled in by the core.
        #[serde(default)]
        station_transaction_id: Option<String>,
    },
    /// Reboot the station.
    Reset {
        /// `Hard` or `Soft`.
        kind: ResetKind,
    },
    /// Make an EVSE (or the whole station, EVSE 0) operative or inoperative.
    ChangeAvailability {
        /// Which EVSE; 0 is the station.
        evse: EvseRef,
        /// Operative or inoperative.
        operative: bool,
    },
    /// Set one configuration key.
    ChangeConfiguration {
        /// Key name.
        key: String,
        /// New value.
        value: String,
    },
    /// Read configuration keys (all when `keys` is empty).
    GetConfiguration {
        /// Keys to read.
        keys: Vec<String>,
    },
    /// Release the cable lock of a connector.
    UnlockConnector {
        /// Which connector.
        evse: EvseRef,
    },
    /// Ask the station to send a message now.
    TriggerMessage {
        /// The message to send, by its OCPP action name (e.g. `StatusNotification`).
        message: String,
        /// Which EVSE, when the message is per EVSE.
        evse: Option<EvseRef>,
    },
    /// Clear the station's authorization cache.
    ClearCache,
    /// Install a charging profile on an EVSE (1.6 SetChargingProfile, 2.0.1 K01).
    SetChargingProfile {
        /// The EVSE; 0 is the station as a whole.
        evse_id: i32,
        /// The profile.
        profile: ChargingProfile,
        /// For a TxProfile on a 2.0.1 station: the station's own id of the profile's transaction,
        /// filled in by the core.
        #[serde(default)]
        station_transaction_id: Option<String>,
    },
    /// Remove charging profiles (1.6 ClearChargingProfile, 2.0.1 K10).
    ClearChargingProfile {
        /// Which profiles.
        criteria: ChargingProfileCriteria,
    },
    /// Ask for the schedule a station plans for an EVSE (1.6 GetCompositeSchedule, 2.0.1 K08).
    GetCompositeSchedule {
        /// The EVSE; 0 asks for the station's total.
        evse_id: i32,
        /// Seconds from now the schedule should cover.
        duration: i32,
        /// The unit wanted; the station's choice when absent.
        #[serde(default)]
        charging_rate_unit: Option<ChargingRateUnit>,
    },
    /// Read device-model variables (2.0.1 GetVariables).
    GetVariables {
        /// Which variables.
        variables: Vec<VariableRef>,
    },
    /// Write device-model variables (2.0.1 SetVariables).
    SetVariables {
        /// Which variables, with their new values.
        variables: Vec<VariableSetting>,
    },
    /// Ask for a report of the device model, sent back in NotifyReport messages (2.0.1
    /// GetBaseReport).
    GetBaseReport {
        /// Id the station repeats in its NotifyReport messages.
        request_id: i32,
        /// `ConfigurationInventory`, `FullInventory` or `SummaryInventory`.
        report_base: String,
    },
    /// Install a local authorization list (1.6 SendLocalList, 2.0.1 D01). The core chose the
    /// version and the entries: a Full list replaces the station's, a Differential one changes
    /// it entry by entry.
    SendLocalList {
        /// The version the station will hold after accepting (1.6 listVersion, 2.0.1
        /// versionNumber).
        version: i32,
        /// Full or Differential.
        update_type: LocalListUpdate,
        /// The entries; in a Differential update an entry without status removes the token.
        entries: Vec<LocalListEntry>,
    },
    /// Ask which local list version the station holds (1.6 GetLocalListVersion, 2.0.1 D02).
    GetLocalListVersion,
    /// Reserve an EVSE (or any EVSE of the station) for a token (1.6 ReserveNow, 2.0.1 H01).
    ReserveNow {
        /// The reservation id, chosen by the core.
        reservation_id: i32,
        /// EVSE to reserve; any EVSE of the station when absent (1.6 connectorId 0).
        evse: Option<EvseRef>,
        /// The token the reservation is for.
        id_token: String,
        /// A group token whose members may also use the reservation.
        group_id_token: Option<String>,
        /// When the reservation lapses.
        expiry_date: DateTime<Utc>,
    },
    /// Cancel a reservation (1.6 CancelReservation, 2.0.1 H02).
    CancelReservation {
        /// The reservation id.
        reservation_id: i32,
    },
    /// Download and install firmware (1.6 UpdateFirmware, 2.0.1 L01).
    UpdateFirmware {
        /// The id the station echoes in FirmwareStatusNotification (2.0.1 only).
        request_id: i32,
        /// URI to download the firmware from.
        location: String,
        /// When to download it.
        retrieve_date: DateTime<Utc>,
        /// How often to retry the download.
        retries: Option<i32>,
        /// Seconds between retries.
        retry_interval: Option<i32>,
    },
    /// Upload diagnostics (1.6 GetDiagnostics) / the diagnostics log (2.0.1 GetLog with logType
    /// DiagnosticsLog, N01).
    GetDiagnostics {
        /// The id the station echoes in LogStatusNotification (2.0.1 only).
        request_id: i32,
        /// URI to upload to.
        location: String,
        /// Oldest log entry wanted.
        start_time: Option<DateTime<Utc>>,
        /// Newest log entry wanted.
        stop_time: Option<DateTime<Utc>>,
    },
}

/// Names one attribute of one variable of a station's device model.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VariableRef {
    /// Component name.
    pub component: String,
    /// Component instance.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub component_instance: Option<String>,
    /// EVSE of the component, when it is per EVSE.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub evse: Option<EvseRef>,
    /// Variable name.
    pub variable: String,
    /// Variable instance.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub variable_instance: Option<String>,
    /// `Actual` (the default), `Target`, `MinSet` or `MaxSet`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attribute_type: Option<String>,
}

/// A variable attribute and the value to set it to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VariableSetting {
    /// Which attribute.
    #[serde(flatten)]
    pub variable: VariableRef,
    /// New value.
    pub value: String,
}

/// A station's answer on one variable attribute of GetVariables or SetVariables.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VariableResult {
    /// Which attribute.
    #[serde(flatten)]
    pub variable: VariableRef,
    /// `Accepted`, `Rejected`, `UnknownComponent`, `UnknownVariable`, `NotSupportedAttributeType`
    /// or `RebootRequired`, verbatim.
    pub attribute_status: String,
    /// The value read (GetVariables only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
}

/// Kind of local list update (1.6 UpdateType, 2.0.1 UpdateEnumType).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum LocalListUpdate {
    /// Replace the station's list.
    Full,
    /// Change the station's list entry by entry.
    Differential,
}

/// One token of a local authorization list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LocalListEntry {
    /// The token value.
    pub id_token: String,
    /// Verdict the station applies offline; none removes the token (Differential only).
    pub status: Option<AuthorizationStatus>,
    /// Until when the verdict holds.
    pub expiry_date: Option<DateTime<Utc>>,
    /// Group (parent) token.
    pub group_id_token: Option<String>,
}

/// Kind of reset.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ResetKind {
    /// Power cycle.
    Hard,
    /// Graceful restart.
    Soft,
}

/// A station's answer to a [`Command`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum CommandReply {
    /// The answer to a remote start on a station that takes a remoteStartId (2.0.1).
    RemoteStart {
        /// The status, verbatim.
        status: String,
        /// The remoteStartId sent, which the started transaction will carry.
        remote_start_id: i32,
        /// The station's transaction id, when a transaction was already running.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        station_transaction_id: Option<String>,
    },
    /// The answer to GetCompositeSchedule. Before [`CommandReply::Status`] and with `composite`
    /// required when read, so an untagged read takes only a reply with a schedule for this one.
    CompositeSchedule {
        /// `Accepted` or `Rejected`, verbatim.
        status: String,
        /// The schedule, when the station sent one.
        #[serde(
            deserialize_with = "Option::deserialize",
            skip_serializing_if = "Option::is_none"
        )]
        composite: Option<CompositeSchedule>,
    },
    /// The status the station answered (`Accepted`, `Rejected`, `Scheduled`, ...), as it sent it.
    Status {
        /// The status, verbatim.
        status: String,
    },
    /// The answer to GetConfiguration.
    Configuration {
        /// Known keys with their values.
        configuration_key: Vec<ConfigurationEntry>,
        /// Requested keys the station does not know.
        unknown_key: Vec<String>,
    },
    /// The answer to GetVariables or SetVariables: one result per attribute asked for.
    Variables {
        /// The results, in the order the station sent them.
        results: Vec<VariableResult>,
    },
    /// The answer to GetLocalListVersion: 0 when the station has no list, -1 (1.6) when it does
    /// not support local lists.
    LocalListVersion {
        /// The version the station holds.
        list_version: i32,
    },
    /// The answer to GetDiagnostics (1.6, no status: only the file name, or none when there is
    /// nothing to upload) or GetLog (2.0.1).
    Log {
        /// The status (2.0.1 only), verbatim.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        status: Option<String>,
        /// The file the station will upload.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        file_name: Option<String>,
    },
}

/// One configuration key of a station.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConfigurationEntry {
    /// Key name.
    pub key: String,
    /// Whether the key is read-only.
    pub readonly: bool,
    /// Current value, if readable.
    pub value: Option<String>,
}

/// Why a [`Command`] did not get an answer from the station.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CommandError {
    /// No websocket is open for the station.
    #[error("station {0} is not connected")]
    Offline(String),
    /// The station did not answer within the response timeout.
    #[error("station did not answer within {0} s")]
    Timeout(u64),
    /// The station answered with a CALLERROR.
    #[error("station answered CALLERROR {code}: {description}")]
    CallError {
        /// The OCPP-J error code.
        code: String,
        /// The station's description.
        description: String,
    },
    /// The station's answer does not match the action's schema.
    #[error("station answered with an invalid payload: {0}")]
    InvalidReply(String),
    /// The command cannot be expressed for this station (e.g. an unknown trigger message).
    #[error("{0}")]
    Unsupported(String),
    /// The connection closed before the answer arrived.
    #[error("connection closed before the station answered")]
    Closed,
}
