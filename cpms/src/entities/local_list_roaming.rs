//! The roaming part of a station's local authorization list: which entries the roaming sync put
//! there, and which set of roaming tokens it last offered the station.

use sea_orm::entity::prelude::*;

/// One row of `local_list_roaming`, per station.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "local_list_roaming")]
pub struct Model {
    /// The station.
    #[sea_orm(primary_key, auto_increment = false)]
    pub station_id: String,
    /// JSON array of the id tokens of the station's accepted list that are roaming entries.
    #[sea_orm(column_type = "Text")]
    pub entries: String,
    /// Digest of the roaming entries last offered to the station; null when none was.
    pub offered_digest: Option<String>,
    /// The station's answer to that offer (`Accepted`, `Failed`, `NotSupported`, ...).
    pub last_status: Option<String>,
    /// When this row last changed.
    pub updated_at: DateTimeUtc,
}

/// No relations are navigated; the foreign key to `station` is the schema's.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
