//! Smart charging: the charging profiles the CPMS believes installed on each station (those a
//! station answered SetChargingProfile with Accepted and has not cleared since).

use sea_orm_migration::{prelude::*, schema::*};

/// Creates `charging_profile`.
#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(ChargingProfile::Table)
                    .col(
                        big_integer(ChargingProfile::Id)
                            .auto_increment()
                            .primary_key(),
                    )
                    .col(string(ChargingProfile::StationId))
                    .col(integer(ChargingProfile::ProfileId))
                    .col(integer(ChargingProfile::EvseId))
                    .col(string(ChargingProfile::Purpose))
                    .col(integer(ChargingProfile::StackLevel))
                    .col(big_integer_null(ChargingProfile::TransactionId))
                    // The whole profile in the API's JSON model; the columns above are what
                    // ClearChargingProfile criteria select on.
                    .col(text(ChargingProfile::Profile))
                    .col(timestamp_with_time_zone(ChargingProfile::InstalledAt))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_charging_profile_station")
                            .from(ChargingProfile::Table, ChargingProfile::StationId)
                            .to(Station::Table, Station::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        // OCPP 1.6 §5.16 / 2.0.1 K01: a profile id is unique on a station; a new one replaces it.
        manager
            .create_index(
                Index::create()
                    .name("ux_charging_profile_station_profile")
                    .table(ChargingProfile::Table)
                    .col(ChargingProfile::StationId)
                    .col(ChargingProfile::ProfileId)
                    .unique()
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(ChargingProfile::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
enum ChargingProfile {
    Table,
    Id,
    StationId,
    ProfileId,
    EvseId,
    Purpose,
    StackLevel,
    TransactionId,
    Profile,
    InstalledAt,
}

#[derive(DeriveIden)]
enum Station {
    Table,
    Id,
}
