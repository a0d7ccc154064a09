//! Local authorization lists (OCPP 1.6 Local Auth List Management, 2.0.1 D01/D02), reservations
//! (1.6 Reservation profile, 2.0.1 H01-H04) and the request ids of firmware updates and log
//! uploads (2.0.1 L01, N01), so their status notifications can be told apart.

use sea_orm_migration::{prelude::*, schema::*};

/// Adds `local_list`, `local_list_entry`, `reservation` and the station's request-id columns.
#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // The list the CPMS last sent a station and the station accepted: one row per station.
        manager
            .create_table(
                Table::create()
                    .table(LocalList::Table)
                    .col(string(LocalList::StationId).primary_key())
                    .col(integer(LocalList::Version))
                    // False after the station answered VersionMismatch: only a Full update may
                    // follow, since the CPMS no longer knows what the station holds.
                    .col(boolean(LocalList::InSync))
                    .col(timestamp_with_time_zone(LocalList::UpdatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_local_list_station")
                            .from(LocalList::Table, LocalList::StationId)
                            .to(Station::Table, Station::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(LocalListEntry::Table)
                    .col(
                        big_integer(LocalListEntry::Id)
                            .auto_increment()
                            .primary_key(),
                    )
                    .col(string(LocalListEntry::StationId))
                    .col(string(LocalListEntry::IdToken))
                    .col(string(LocalListEntry::Status))
                    .col(timestamp_with_time_zone_null(LocalListEntry::ExpiryDate))
                    .col(string_null(LocalListEntry::GroupIdToken))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_local_list_entry_station")
                            .from(LocalListEntry::Table, LocalListEntry::StationId)
                            .to(Station::Table, Station::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ux_local_list_entry")
                    .table(LocalListEntry::Table)
                    .col(LocalListEntry::StationId)
                    .col(LocalListEntry::IdToken)
                    .unique()
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(Reservation::Table)
                    .col(big_integer(Reservation::Id).auto_increment().primary_key())
                    .col(string(Reservation::StationId))
                    .col(integer(Reservation::ReservationId))
                    .col(integer_null(Reservation::EvseId))
                    .col(string(Reservation::IdToken))
                    .col(string_null(Reservation::GroupIdToken))
                    .col(timestamp_with_time_zone(Reservation::ExpiryDate))
                    .col(string(Reservation::Status))
                    .col(integer_null(Reservation::TransactionId))
                    .col(timestamp_with_time_zone(Reservation::CreatedAt))
                    .col(timestamp_with_time_zone(Reservation::UpdatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_reservation_station")
                            .from(Reservation::Table, Reservation::StationId)
                            .to(Station::Table, Station::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        // OCPP 1.6 §5.13 / 2.0.1 H01: a reservation id names one reservation of a station.
        manager
            .create_index(
                Index::create()
                    .name("ux_reservation_station_id")
                    .table(Reservation::Table)
                    .col(Reservation::StationId)
                    .col(Reservation::ReservationId)
                    .unique()
                    .to_owned(),
            )
            .await?;

        // SQLite adds one column per ALTER TABLE.
        manager
            .alter_table(
                Table::alter()
                    .table(Station::Table)
                    .add_column(integer_null(Station::FirmwareRequestId))
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(Station::Table)
                    .add_column(integer_null(Station::DiagnosticsRequestId))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Station::Table)
                    .drop_column(Station::DiagnosticsRequestId)
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(Station::Table)
                    .drop_column(Station::FirmwareRequestId)
                    .to_owned(),
            )
            .await?;
        for table in [
            Reservation::Table.into_iden(),
            LocalListEntry::Table.into_iden(),
            LocalList::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(table).to_owned())
                .await?;
        }
        Ok(())
    }
}

#[derive(DeriveIden)]
enum Station {
    Table,
    Id,
    FirmwareRequestId,
    DiagnosticsRequestId,
}

#[derive(DeriveIden)]
enum LocalList {
    Table,
    StationId,
    Version,
    InSync,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum LocalListEntry {
    Table,
    Id,
    StationId,
    IdToken,
    Status,
    ExpiryDate,
    GroupIdToken,
}

// `ReservationId` is the OCPP name of the column.
#[allow(clippy::enum_variant_names)]
#[derive(DeriveIden)]
enum Reservation {
    Table,
    Id,
    StationId,
    ReservationId,
    EvseId,
    IdToken,
    GroupIdToken,
    ExpiryDate,
    Status,
    TransactionId,
    CreatedAt,
    UpdatedAt,
}
