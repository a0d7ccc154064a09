//! OCPI partners registered through the credentials handshake.

use sea_orm::entity::prelude::*;

/// One row of `ocpi_partner`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "ocpi_partner")]
pub struct Model {
    /// Database-generated id.
    #[sea_orm(primary_key)]
    pub id: i64,
    /// A name the operator gave it.
    pub name: Option<String>,
    /// `PENDING`, `REGISTERED` or `UNREGISTERED`.
    pub status: String,
    /// SHA-256 (hex) of the pending token (A, or our B while we initiate).
    pub pending_token_hash: Option<String>,
    /// SHA-256 (hex) of the registered token the partner presents.
    pub token_hash: Option<String>,
    /// The token we present to the partner, AES-GCM encrypted.
    #[sea_orm(column_type = "Text", nullable)]
    pub their_token: Option<String>,
    /// The partner's versions endpoint.
    #[sea_orm(column_type = "Text", nullable)]
    pub versions_url: Option<String>,
    /// The agreed OCPI version.
    pub version: Option<String>,
    /// The first role's country code.
    pub country_code: Option<String>,
    /// The first role's party id.
    pub party_id: Option<String>,
    /// The partner's roles, a JSON array.
    #[sea_orm(column_type = "Text")]
    pub roles: String,
    /// The partner's endpoints, a JSON array.
    #[sea_orm(column_type = "Text")]
    pub endpoints: String,
    /// When it was created.
    pub created_at: DateTimeUtc,
    /// When it last changed.
    pub updated_at: DateTimeUtc,
}

/// Partners stand alone.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
