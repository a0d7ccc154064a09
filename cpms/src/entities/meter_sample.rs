//! Individual sampled values from MeterValues and transaction messages.

use sea_orm::entity::prelude::*;

/// One row of `meter_sample`: a single sampled value of one measurand.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "meter_sample")]
pub struct Model {
    /// Database-generated id; 64-bit because samples outnumber everything.
    #[sea_orm(primary_key)]
    pub id: i64,
    /// The station that sent the sample.
    pub station_id: String,
    /// EVSE number on the station.
    pub evse_id: i32,
    /// Connector number on the EVSE.
    pub connector_id: i32,
    /// The transaction the sample belongs to, if any.
    pub transaction_id: Option<i32>,
    /// The station's timestamp of the sample.
    pub timestamp: DateTimeUtc,
    /// What was measured, e.g. `Energy.Active.Import.Register`.
    pub measurand: String,
    /// Phase, e.g. `L1-N`.
    pub phase: Option<String>,
    /// Unit, e.g. `Wh`.
    pub unit: Option<String>,
    /// The value as sent; TEXT because signed meter data runs to kilobytes.
    #[sea_orm(column_type = "Text")]
    pub value: String,
    /// Reading context, e.g. `Sample.Periodic`.
    pub context: Option<String>,
    /// Measurement location, e.g. `Outlet`.
    pub location: Option<String>,
    /// `Raw` or `SignedData`.
    pub format: Option<String>,
}

/// The station and, if any, the transaction a sample belongs to.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    /// The station that sent the sample.
    #[sea_orm(
        belongs_to = "super::station::Entity",
        from = "Column::StationId",
        to = "super::station::Column::Id",
        on_delete = "Cascade"
    )]
    Station,
    /// The transaction the sample was taken in.
    #[sea_orm(
        belongs_to = "super::transaction::Entity",
        from = "Column::TransactionId",
        to = "super::transaction::Column::Id",
        on_delete = "Cascade"
    )]
    Transaction,
}

impl Related<super::station::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Station.def()
    }
}

impl Related<super::transaction::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Transaction.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
