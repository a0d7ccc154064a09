//! The OCPI push outbox: pushes partners are owed, by object and operation.

use sea_orm::entity::prelude::*;

/// One row of `ocpi_outbox`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "ocpi_outbox")]
pub struct Model {
    /// Delivery order.
    #[sea_orm(primary_key)]
    pub id: i64,
    /// The partner to push to.
    pub partner_id: i64,
    /// `locations` or `tariffs`.
    pub module: String,
    /// Which object: location id, `location_id/evse_uid`, tariff id.
    pub object_key: String,
    /// PUT, PATCH or DELETE.
    pub operation: String,
    /// When the change was committed.
    pub created_at: DateTimeUtc,
    /// Failed deliveries so far.
    pub attempts: i32,
    /// Not delivered before this.
    pub next_attempt_at: DateTimeUtc,
    /// pending, delivered or parked.
    pub state: String,
    /// When a worker took it; cleared at start-up for rows a dead process held.
    pub claimed_at: Option<DateTimeUtc>,
    /// Why the last attempt failed.
    #[sea_orm(column_type = "Text", nullable)]
    pub last_error: Option<String>,
    /// When the partner accepted it.
    pub delivered_at: Option<DateTimeUtc>,
}

/// Rows refer to partners by id only.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
