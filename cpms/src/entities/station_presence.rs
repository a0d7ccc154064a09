//! Whether a station has a websocket open, and since when.

use sea_orm::entity::prelude::*;

/// One row of `station_presence`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "station_presence")]
pub struct Model {
    /// The station.
    #[sea_orm(primary_key, auto_increment = false)]
    pub station_id: String,
    /// A websocket is open.
    pub connected: bool,
    /// When it connected or disconnected.
    pub since: DateTimeUtc,
}

/// Keyed by station id; no relation is needed.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
