//! A charging station as the CPMS knows it: identity, what it reported at
//! boot, and whether it may talk to us.

use sea_orm::entity::prelude::*;

/// One row of `station`, keyed by the charge point identity the station
/// connects with.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "station")]
pub struct Model {
    /// Charge point identity, the last path segment of the OCPP-J URL.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    /// Vendor from the last BootNotification.
    pub vendor: Option<String>,
    /// Model from the last BootNotification.
    pub model: Option<String>,
    /// Charge point serial number from the last BootNotification.
    pub serial_number: Option<String>,
    /// Firmware version from the last BootNotification.
    pub firmware_version: Option<String>,
    /// SIM card ICCID, if the station has a modem.
    pub iccid: Option<String>,
    /// SIM card IMSI, if the station has a modem.
    pub imsi: Option<String>,
    /// Serial number of the main energy meter.
    pub meter_serial_number: Option<String>,
    /// Type of the main energy meter.
    pub meter_type: Option<String>,
    /// OCPP version negotiated on the websocket, e.g. `ocpp1.6`.
    pub protocol: Option<String>,
    /// `Accepted`, `Pending` or `Rejected`, as last answered to a boot.
    pub registration_status: String,
    /// Hash of the HTTP Basic password (OCPP security profile 1/2).
    pub password_hash: Option<String>,
    /// OCPP security profile the station must connect with: 1, 2 or 3.
    pub security_profile: i32,
    /// Last FirmwareStatusNotification status.
    pub firmware_status: Option<String>,
    /// Last DiagnosticsStatusNotification status.
    pub diagnostics_status: Option<String>,
    /// requestId of the last UpdateFirmware sent, or of the last 2.0.1 FirmwareStatusNotification.
    pub firmware_request_id: Option<i32>,
    /// requestId of the last GetLog sent, or of the last 2.0.1 LogStatusNotification.
    pub diagnostics_request_id: Option<i32>,
    /// When the station last sent anything.
    pub last_seen: Option<DateTimeUtc>,
    /// When the station last sent a BootNotification.
    pub last_boot: Option<DateTimeUtc>,
    /// When the row was created.
    pub created_at: DateTimeUtc,
    /// When the row was last changed.
    pub updated_at: DateTimeUtc,
}

/// Tables whose rows belong to a station and go when it is deleted.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    /// The station's connectors.
    #[sea_orm(has_many = "super::connector::Entity")]
    Connector,
    /// Transactions started on the station.
    #[sea_orm(has_many = "super::transaction::Entity")]
    Transaction,
    /// Meter values the station sent.
    #[sea_orm(has_many = "super::meter_sample::Entity")]
    MeterSample,
}

impl Related<super::connector::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Connector.def()
    }
}

impl Related<super::transaction::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Transaction.def()
    }
}

impl Related<super::meter_sample::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::MeterSample.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
