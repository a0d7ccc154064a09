//! OCPI CDRs we created (OCPI 2.2.1 CDRs module), frozen at creation.

use sea_orm::entity::prelude::*;

/// One row of `ocpi_cdr`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "ocpi_cdr")]
pub struct Model {
    /// Creation order.
    #[sea_orm(primary_key)]
    pub id: i64,
    /// Our CDR id (CiString(39)), unique, what the eMSP dedupes on.
    pub cdr_id: String,
    /// The eMSP owning the session's token, the only one to receive and see it.
    pub partner_id: i64,
    /// The session's transaction (unique); `None` for a credit CDR.
    pub transaction_id: Option<i32>,
    /// For a credit CDR: the id of the CDR it credits (unique: one credit per CDR).
    pub credit_reference_id: Option<String>,
    /// The bridge's `Cdr` as JSON, numbers exact.
    #[sea_orm(column_type = "Text")]
    pub body: String,
    /// When it was created.
    pub created_at: DateTimeUtc,
    /// The eMSP's URL of the CDR, from the Location header of its POST answer.
    #[sea_orm(column_type = "Text", nullable)]
    pub location_url: Option<String>,
    /// When the eMSP accepted it.
    pub delivered_at: Option<DateTimeUtc>,
}

/// Rows refer to partners and transactions by id only.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
