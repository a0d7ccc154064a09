//! Key/value settings the CPMS generates and must keep across restarts,
//! such as the JWT signing secret.

use sea_orm::entity::prelude::*;

/// One row of `setting`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "setting")]
pub struct Model {
    /// Setting name.
    #[sea_orm(primary_key, auto_increment = false)]
    pub key: String,
    /// Setting value, free-form text.
    #[sea_orm(column_type = "Text")]
    pub value: String,
}

/// Settings stand alone.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
