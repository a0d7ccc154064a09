//! A station's event log: OCPP 2.0.1 NotifyEvent entries and SecurityEventNotifications.

use sea_orm::entity::prelude::*;

/// One row of `station_event`.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "station_event")]
pub struct Model {
    /// Database-generated id.
    #[sea_orm(primary_key)]
    pub id: i64,
    /// The station.
    pub station_id: String,
    /// `NotifyEvent` or `SecurityEventNotification`.
    pub source: String,
    /// The station's event id (NotifyEvent).
    pub event_id: Option<i32>,
    /// Security event type, or the NotifyEvent trigger.
    pub event_type: String,
    /// When it happened at the station.
    pub timestamp: DateTimeUtc,
    /// Component (NotifyEvent).
    pub component: Option<String>,
    /// Variable (NotifyEvent).
    pub variable: Option<String>,
    /// Value that caused the event (NotifyEvent).
    #[sea_orm(column_type = "Text", nullable)]
    pub actual_value: Option<String>,
    /// Technical code.
    pub tech_code: Option<String>,
    /// Technical detail.
    #[sea_orm(column_type = "Text", nullable)]
    pub tech_info: Option<String>,
    /// Whether the condition cleared.
    pub cleared: Option<bool>,
    /// Related station transaction id.
    pub station_transaction_id: Option<String>,
    /// Everything else the station sent about the event.
    pub details: Option<Json>,
    /// When the CPMS stored it.
    pub received_at: DateTimeUtc,
}

/// No relations are navigated; the foreign key to `station` is the schema's.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
