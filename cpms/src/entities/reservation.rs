//! A reservation of a station (or one of its EVSEs) for an id token (OCPP 1.6 §5.13, 2.0.1 H01).

use sea_orm::entity::prelude::*;

/// One row of `reservation`, unique per (station, reservation id).
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "reservation")]
pub struct Model {
    /// Database-generated id.
    #[sea_orm(primary_key)]
    pub id: i64,
    /// The station.
    pub station_id: String,
    /// The reservation id sent to the station.
    pub reservation_id: i32,
    /// The reserved EVSE; none for the station as a whole.
    pub evse_id: Option<i32>,
    /// The token the reservation is for.
    pub id_token: String,
    /// Group token that may also use the reservation.
    pub group_id_token: Option<String>,
    /// When the reservation lapses.
    pub expiry_date: DateTimeUtc,
    /// The station's answer (`Accepted`, `Occupied`, ...), then `Cancelled`, `Used`, `Expired`
    /// or `Removed`.
    pub status: String,
    /// The transaction that used the reservation.
    pub transaction_id: Option<i32>,
    /// When the row was created.
    pub created_at: DateTimeUtc,
    /// When the row was last changed.
    pub updated_at: DateTimeUtc,
}

/// No relations are navigated; the foreign key to `station` is the schema's.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
