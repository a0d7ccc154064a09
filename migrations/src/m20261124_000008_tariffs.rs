//! OCPI tariffs (OCPI 2.2.1 Tariffs module): the operator's tariffs, each stored as its validated
//! terms (a JSON document with exact decimal numbers) beside the columns lists and filters use.

use sea_orm_migration::{prelude::*, schema::*};

/// Creates `tariff`.
#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Tariff::Table)
                    // Tariff.id: CiString(36) (OCPI 2.2.1 Tariffs: Tariff object).
                    .col(string_len(Tariff::Id, 36).primary_key())
                    .col(string_len(Tariff::Currency, 3))
                    .col(string_null(Tariff::TariffType))
                    // The terms (elements, prices, texts, energy mix, validity) as JSON text.
                    .col(text(Tariff::Terms))
                    .col(timestamp_with_time_zone(Tariff::CreatedAt))
                    .col(timestamp_with_time_zone(Tariff::LastUpdated))
                    .to_owned(),
            )
            .await?;
        // The OCPI GET lists tariffs in last_updated order and filters on it.
        manager
            .create_index(
                Index::create()
                    .name("ix_tariff_last_updated")
                    .table(Tariff::Table)
                    .col(Tariff::LastUpdated)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(Tariff::Table).to_owned())
            .await
    }
}

// The column names follow the spec's field names (`tariff_type`, from Tariff.type).
#[allow(clippy::enum_variant_names)]
#[derive(DeriveIden)]
enum Tariff {
    Table,
    Id,
    Currency,
    TariffType,
    Terms,
    CreatedAt,
    LastUpdated,
}
