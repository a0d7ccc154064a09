//! The local authorisation list: tokens the CPMS knows and their status.

use sea_orm::entity::prelude::*;

/// One row of `id_token`, keyed by the token value (RFID UID, eMAID, ...).
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "id_token")]
pub struct Model {
    /// The token value as the station presents it.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id_token: String,
    /// `Accepted`, `Blocked`, `Expired` or `Invalid`.
    pub status: String,
    /// After this instant the token is treated as expired.
    pub expiry_date: Option<DateTimeUtc>,
    /// Parent token, so one card can stop another's transaction.
    pub group_id_token: Option<String>,
    /// When the row was created.
    pub created_at: DateTimeUtc,
    /// When the row was last changed.
    pub updated_at: DateTimeUtc,
}

/// No foreign keys: transactions copy the token value rather than reference
/// it, so unknown tokens can still be recorded.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
