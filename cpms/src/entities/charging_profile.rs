//! The charging profiles the CPMS believes installed on each station.

use sea_orm::entity::prelude::*;

/// One row of `charging_profile`: a profile the station accepted, unique per (station, profile
/// id).
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "charging_profile")]
pub struct Model {
    /// Database-generated id.
    #[sea_orm(primary_key)]
    pub id: i64,
    /// The station.
    pub station_id: String,
    /// The profile's id on the station.
    pub profile_id: i32,
    /// The EVSE it was installed on (0: the station).
    pub evse_id: i32,
    /// `ChargingStationMaxProfile`, `TxDefaultProfile` or `TxProfile`.
    pub purpose: String,
    /// Stack level.
    pub stack_level: i32,
    /// The CPMS transaction id of a TxProfile.
    pub transaction_id: Option<i64>,
    /// The whole profile as JSON (the operator API's model).
    #[sea_orm(column_type = "Text")]
    pub profile: String,
    /// When the station accepted it.
    pub installed_at: DateTimeUtc,
}

/// No relations are navigated; the foreign key to `station` is the schema's.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
