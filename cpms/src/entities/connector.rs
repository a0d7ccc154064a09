//! The last known status of each connector of each station.

use sea_orm::entity::prelude::*;

/// One row of `connector`, keyed by station, EVSE and connector number.
///
/// The key carries the EVSE because OCPP 2.0.1 numbers connectors within an
/// EVSE; 1.6 and 2.0.1 stations share the one table.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "connector")]
pub struct Model {
    /// The station the connector belongs to.
    #[sea_orm(primary_key, auto_increment = false)]
    pub station_id: String,
    /// EVSE number on the station.
    #[sea_orm(primary_key, auto_increment = false)]
    pub evse_id: i32,
    /// Connector number on the EVSE.
    #[sea_orm(primary_key, auto_increment = false)]
    pub connector_id: i32,
    /// Status normalised across OCPP versions.
    pub status: String,
    /// Status exactly as the station sent it.
    pub source_status: String,
    /// OCPP 1.6 error code, if any.
    pub error_code: Option<String>,
    /// Free-text info the station sent with the status.
    pub info: Option<String>,
    /// Vendor that defines `vendor_error_code`.
    pub vendor_id: Option<String>,
    /// Vendor-specific error code.
    pub vendor_error_code: Option<String>,
    /// The station's own timestamp of the status change.
    pub status_at: DateTimeUtc,
    /// When the row was last changed.
    pub updated_at: DateTimeUtc,
}

/// The station a connector belongs to.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    /// The owning station.
    #[sea_orm(
        belongs_to = "super::station::Entity",
        from = "Column::StationId",
        to = "super::station::Column::Id",
        on_delete = "Cascade"
    )]
    Station,
}

impl Related<super::station::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Station.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
