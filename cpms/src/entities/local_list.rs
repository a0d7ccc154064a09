//! The local authorization list the CPMS believes a station holds: what it last sent and the
//! station accepted (OCPP 1.6 §5.15, 2.0.1 D01).

use sea_orm::entity::prelude::*;

/// One row of `local_list`, one per station that has accepted a list.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "local_list")]
pub struct Model {
    /// The station.
    #[sea_orm(primary_key, auto_increment = false)]
    pub station_id: String,
    /// The list version the station accepted last.
    pub version: i32,
    /// False after the station answered VersionMismatch; only a Full update may follow.
    pub in_sync: bool,
    /// When the row was last changed.
    pub updated_at: DateTimeUtc,
}

/// No relations are navigated; the foreign key to `station` is the schema's.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
