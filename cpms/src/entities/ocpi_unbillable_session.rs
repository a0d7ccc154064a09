//! Roaming sessions that could not become a CDR, with the reason, for the operator.

use sea_orm::entity::prelude::*;

/// One row of `ocpi_unbillable_session`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "ocpi_unbillable_session")]
pub struct Model {
    /// Row id.
    #[sea_orm(primary_key)]
    pub id: i64,
    /// The transaction (unique).
    pub transaction_id: i32,
    /// The eMSP owning its token.
    pub partner_id: i64,
    /// Why, as a stable code (`no_location`, `no_meter_data`, ...).
    pub reason: String,
    /// The details.
    #[sea_orm(column_type = "Text")]
    pub detail: String,
    /// When it was found.
    pub created_at: DateTimeUtc,
}

/// Rows refer to transactions by id only.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
