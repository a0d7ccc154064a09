//! OCPI Locations: the operator's sites.

use sea_orm::entity::prelude::*;

/// One row of `location`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "location")]
pub struct Model {
    /// The OCPI Location id (CiString(36)).
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    /// Whether the Location may be shown to the public (OCPI 2.2.1 Locations: publish).
    pub publish: bool,
    /// Name, address, coordinates, opening times...: a JSON object.
    #[sea_orm(column_type = "Text")]
    pub site: String,
    /// When it was created.
    pub created_at: DateTimeUtc,
    /// When the operator last changed it.
    pub updated_at: DateTimeUtc,
}

/// Locations stand alone here; EVSEs point at them.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
