//! Roaming tokens in the stations' local authorization lists (OCPI 2.2.1 Tokens: WhitelistType
//! ALWAYS and ALLOWED_OFFLINE; OCPP 1.6 Local Auth List Management, 2.0.1 D01/D02): per station,
//! which entries of its list the roaming sync put there, and which set of roaming tokens it last
//! offered the station, so a token change is sent once and only to stations that need it.

use sea_orm_migration::{prelude::*, schema::*};

/// Adds `local_list_roaming`.
#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(LocalListRoaming::Table)
                    .col(string(LocalListRoaming::StationId).primary_key())
                    // The id tokens of the station's accepted list that are roaming entries (a
                    // JSON array): only these are changed or removed by the sync, never the
                    // operator's own entries.
                    .col(text(LocalListRoaming::Entries))
                    // Digest of the roaming entries last offered to the station, and its answer;
                    // null until one was offered (or after the operator replaced the list).
                    .col(string_null(LocalListRoaming::OfferedDigest))
                    .col(string_null(LocalListRoaming::LastStatus))
                    .col(timestamp_with_time_zone(LocalListRoaming::UpdatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_local_list_roaming_station")
                            .from(LocalListRoaming::Table, LocalListRoaming::StationId)
                            .to(Station::Table, Station::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(LocalListRoaming::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
enum Station {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum LocalListRoaming {
    Table,
    StationId,
    Entries,
    OfferedDigest,
    LastStatus,
    UpdatedAt,
}
