//! Every OCPP 2.0.1 TransactionEvent a station sent, once each.

use sea_orm::entity::prelude::*;

/// One row of `transaction_event`; unique on station, station transaction id and seqNo, so a
/// replayed event finds its first copy.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "transaction_event")]
pub struct Model {
    /// Database-generated id.
    #[sea_orm(primary_key)]
    pub id: i64,
    /// The station that sent it.
    pub station_id: String,
    /// The station's transaction id.
    pub station_transaction_id: String,
    /// The station's sequence number of the event.
    pub seq_no: i64,
    /// The CPMS transaction the event belongs to.
    pub transaction_id: i32,
    /// `Started`, `Updated` or `Ended`.
    pub event_type: String,
    /// When it happened at the station.
    pub timestamp: DateTimeUtc,
    /// Why the station sent it.
    pub trigger_reason: String,
    /// Whether it happened while the station was offline.
    pub offline: bool,
    /// EVSE, when sent.
    pub evse_id: Option<i32>,
    /// Connector, when sent.
    pub connector_id: Option<i32>,
    /// Id token, when sent.
    pub id_token: Option<String>,
    /// Charging state, when sent.
    pub charging_state: Option<String>,
    /// Stop reason, when sent.
    pub stopped_reason: Option<String>,
    /// remoteStartId, when sent.
    pub remote_start_id: Option<i32>,
    /// Reservation, when sent.
    pub reservation_id: Option<i32>,
    /// Earliest energy register reading of the event (Wh, decimal text).
    pub first_register_wh: Option<String>,
    /// When `first_register_wh` was sampled.
    pub first_register_at: Option<DateTimeUtc>,
    /// Latest energy register reading of the event (Wh, decimal text).
    pub last_register_wh: Option<String>,
    /// When `last_register_wh` was sampled.
    pub last_register_at: Option<DateTimeUtc>,
    /// When the CPMS stored it.
    pub received_at: DateTimeUtc,
}

/// The transaction an event belongs to.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    /// The CPMS transaction.
    #[sea_orm(
        belongs_to = "super::transaction::Entity",
        from = "Column::TransactionId",
        to = "super::transaction::Column::Id",
        on_delete = "Cascade"
    )]
    Transaction,
}

impl Related<super::transaction::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Transaction.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
