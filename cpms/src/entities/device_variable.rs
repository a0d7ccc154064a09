//! A station's device model as its NotifyReports describe it (OCPP 2.0.1).

use sea_orm::entity::prelude::*;

/// One row of `device_variable`: one attribute of one variable of one component, upserted on
/// (station, component, instance, EVSE, connector, variable, instance, attribute type). Absent
/// instances are `""` and an absent EVSE or connector is `0`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "device_variable")]
pub struct Model {
    /// Database-generated id.
    #[sea_orm(primary_key)]
    pub id: i64,
    /// The station.
    pub station_id: String,
    /// Component name.
    pub component: String,
    /// Component instance, `""` when none.
    pub component_instance: String,
    /// EVSE of the component, 0 when none.
    pub evse_id: i32,
    /// Connector of the component, 0 when none.
    pub connector_id: i32,
    /// Variable name.
    pub variable: String,
    /// Variable instance, `""` when none.
    pub variable_instance: String,
    /// `Actual`, `Target`, `MinSet` or `MaxSet`.
    pub attribute_type: String,
    /// Value, when readable.
    #[sea_orm(column_type = "Text", nullable)]
    pub value: Option<String>,
    /// `ReadOnly`, `WriteOnly` or `ReadWrite`.
    pub mutability: Option<String>,
    /// Survives a reboot.
    pub persistent: Option<bool>,
    /// Never changes.
    pub constant: Option<bool>,
    /// Data type.
    pub data_type: Option<String>,
    /// Unit.
    pub unit: Option<String>,
    /// Lower limit (decimal text).
    pub min_limit: Option<String>,
    /// Upper limit (decimal text).
    pub max_limit: Option<String>,
    /// Allowed values of a list type.
    #[sea_orm(column_type = "Text", nullable)]
    pub values_list: Option<String>,
    /// Whether it can be monitored.
    pub supports_monitoring: Option<bool>,
    /// When the CPMS last stored it.
    pub updated_at: DateTimeUtc,
}

/// No relations are navigated; the foreign key to `station` is the schema's.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
