//! One id token of the local authorization list the CPMS believes a station holds.

use sea_orm::entity::prelude::*;

/// One row of `local_list_entry`, unique per (station, token).
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "local_list_entry")]
pub struct Model {
    /// Database-generated id.
    #[sea_orm(primary_key)]
    pub id: i64,
    /// The station.
    pub station_id: String,
    /// The token value.
    pub id_token: String,
    /// `Accepted`, `Blocked`, `Expired`, `Invalid` or `ConcurrentTx`.
    pub status: String,
    /// Expiry sent with the entry.
    pub expiry_date: Option<DateTimeUtc>,
    /// Group (parent) token sent with the entry.
    pub group_id_token: Option<String>,
}

/// No relations are navigated; the foreign key to `station` is the schema's.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
