//! OCPI Locations: the operator's sites (`location`), which station EVSEs belong to each
//! (`location_evse`), and whether each station has a websocket open and since when
//! (`station_presence`), which the OCPI status of an offline station needs.

use sea_orm_migration::{prelude::*, schema::*};

/// Creates `location`, `location_evse` and `station_presence`.
#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Location::Table)
                    // OCPI 2.2.1 Locations: Location.id is a CiString(36).
                    .col(string_len(Location::Id, 36).primary_key())
                    .col(boolean(Location::Publish))
                    // The site's descriptive data (name, address, coordinates, opening times,
                    // ...) as a JSON object: read and written whole, never queried by field.
                    .col(text(Location::Site))
                    .col(timestamp_with_time_zone(Location::CreatedAt))
                    .col(timestamp_with_time_zone(Location::UpdatedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(LocationEvse::Table)
                    .col(string_len(LocationEvse::LocationId, 36))
                    // OCPI 2.2.1 Locations: EVSE.uid is a CiString(36).
                    .col(string_len(LocationEvse::Uid, 36))
                    .col(string(LocationEvse::StationId))
                    .col(integer(LocationEvse::EvseId))
                    // The operator's flag: out of service whatever the station says.
                    .col(boolean(LocationEvse::Inoperative))
                    // evse_id (eMI3), capabilities, physical reference, floor level and the
                    // connectors, as a JSON object.
                    .col(text(LocationEvse::Details))
                    .col(timestamp_with_time_zone(LocationEvse::CreatedAt))
                    .col(timestamp_with_time_zone(LocationEvse::UpdatedAt))
                    .primary_key(
                        Index::create()
                            .col(LocationEvse::LocationId)
                            .col(LocationEvse::Uid),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(LocationEvse::Table, LocationEvse::LocationId)
                            .to(Location::Table, Location::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        // One station EVSE is in at most one OCPI EVSE.
        manager
            .create_index(
                Index::create()
                    .name("ux_location_evse_station_evse")
                    .table(LocationEvse::Table)
                    .col(LocationEvse::StationId)
                    .col(LocationEvse::EvseId)
                    .unique()
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(StationPresence::Table)
                    .col(string(StationPresence::StationId).primary_key())
                    .col(boolean(StationPresence::Connected))
                    .col(timestamp_with_time_zone(StationPresence::Since))
                    .to_owned(),
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            StationPresence::Table.into_iden(),
            LocationEvse::Table.into_iden(),
            Location::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(table).to_owned())
                .await?;
        }
        Ok(())
    }
}

#[derive(DeriveIden)]
enum Location {
    Table,
    Id,
    Publish,
    Site,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum LocationEvse {
    Table,
    LocationId,
    Uid,
    StationId,
    EvseId,
    Inoperative,
    Details,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum StationPresence {
    Table,
    StationId,
    Connected,
    Since,
}
