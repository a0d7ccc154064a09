//! OCPI tariffs the operator defined (OCPI 2.2.1 Tariffs module).

use sea_orm::entity::prelude::*;

/// One row of `tariff`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "tariff")]
pub struct Model {
    /// The tariff id (CiString(36)), chosen by the operator.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    /// ISO 4217 currency code.
    pub currency: String,
    /// The OCPI TariffType, when set.
    pub tariff_type: Option<String>,
    /// The validated terms as JSON, numbers exact.
    #[sea_orm(column_type = "Text")]
    pub terms: String,
    /// When it was created.
    pub created_at: DateTimeUtc,
    /// When it last changed (whole seconds).
    pub last_updated: DateTimeUtc,
}

/// Tariffs stand alone.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
