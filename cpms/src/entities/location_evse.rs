//! Which station EVSE an OCPI EVSE of a Location is.

use sea_orm::entity::prelude::*;

/// One row of `location_evse`, keyed by Location and EVSE uid.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "location_evse")]
pub struct Model {
    /// The Location it belongs to.
    #[sea_orm(primary_key, auto_increment = false)]
    pub location_id: String,
    /// The OCPI EVSE uid (CiString(36)).
    #[sea_orm(primary_key, auto_increment = false)]
    pub uid: String,
    /// The station.
    pub station_id: String,
    /// The station's EVSE number (1.6: the connectorId).
    pub evse_id: i32,
    /// The operator took it out of service.
    pub inoperative: bool,
    /// eMI3 id, capabilities, physical reference, floor level, connectors: a JSON object.
    #[sea_orm(column_type = "Text")]
    pub details: String,
    /// When it was created.
    pub created_at: DateTimeUtc,
    /// When the operator last changed it.
    pub updated_at: DateTimeUtc,
}

/// Rows are read by key; no relation is needed.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
