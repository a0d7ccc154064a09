//! Charging transactions, from start to stop.

use sea_orm::entity::prelude::*;

/// One row of `transaction`.
///
/// Energy readings are decimal numbers kept as text, because SQLite has no
/// exact decimal type; the core parses them into `rust_decimal`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "transaction")]
pub struct Model {
    /// Database-generated id, also the OCPP 1.6 `transactionId` (an int32).
    #[sea_orm(primary_key)]
    pub id: i32,
    /// The station the transaction runs on.
    pub station_id: String,
    /// EVSE number on the station.
    pub evse_id: i32,
    /// Connector number on the EVSE.
    pub connector_id: i32,
    /// Token that started the transaction.
    pub id_token: String,
    /// Authorization status given for `id_token` at start.
    pub authorization_status: String,
    /// `Active` or `Stopped`.
    pub state: String,
    /// The station's start timestamp; with station and EVSE it is unique, so
    /// a retransmitted StartTransaction finds its first copy.
    pub started_at: DateTimeUtc,
    /// The station's stop timestamp, once stopped.
    pub stopped_at: Option<DateTimeUtc>,
    /// Meter reading at start, in Wh, as a decimal string.
    pub meter_start_wh: String,
    /// Meter reading at stop, in Wh, as a decimal string.
    pub meter_stop_wh: Option<String>,
    /// Latest energy register reading seen during the transaction, in Wh.
    pub last_meter_wh: Option<String>,
    /// When `last_meter_wh` was sampled.
    pub last_meter_at: Option<DateTimeUtc>,
    /// Reason the station gave for stopping.
    pub stop_reason: Option<String>,
    /// Token presented to stop, if any.
    pub stop_id_token: Option<String>,
    /// Reservation the transaction consumed, if any.
    pub reservation_id: Option<i32>,
    /// When the row was created.
    pub created_at: DateTimeUtc,
    /// When the row was last changed.
    pub updated_at: DateTimeUtc,
    /// The station's own transaction id (OCPP 2.0.1); NULL for 1.6, whose stations use `id`.
    pub station_transaction_id: Option<String>,
    /// The remoteStartId of the RequestStartTransaction that started it (OCPP 2.0.1).
    pub remote_start_id: Option<i32>,
    /// The reference an eMSP's real-time authorization gave the token that started it (OCPI
    /// 2.2.1 Tokens: AuthorizationInfo), for the Session and CDR.
    pub authorization_reference: Option<String>,
    /// The OCPI partner owning the roaming token that started it; its Session goes to that
    /// eMSP only (OCPI 2.2.1 Sessions). NULL for the operator's own tokens.
    pub ocpi_partner_id: Option<i64>,
    /// The `ocpi_token` row of that roaming token, for the Session's CdrToken.
    pub ocpi_token_id: Option<i64>,
    /// How the roaming token was authorized: `AUTH_REQUEST` (the eMSP answered in real time)
    /// or `WHITELIST` (Types: AuthMethod enum).
    pub ocpi_auth_method: Option<String>,
    /// The tariff its Session started under, as JSON (see `core::usage::pin_session_tariff`):
    /// it prices the Session and CDR however the tariff changes later. NULL when none was
    /// pinned (no roaming token, or a row older than this column).
    #[sea_orm(column_type = "Text", nullable)]
    pub session_tariff: Option<String>,
}

/// The station a transaction runs on and the meter samples it collected.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    /// The station the transaction runs on.
    #[sea_orm(
        belongs_to = "super::station::Entity",
        from = "Column::StationId",
        to = "super::station::Column::Id",
        on_delete = "Cascade"
    )]
    Station,
    /// Meter values sent during the transaction.
    #[sea_orm(has_many = "super::meter_sample::Entity")]
    MeterSample,
}

impl Related<super::station::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Station.def()
    }
}

impl Related<super::meter_sample::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::MeterSample.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
