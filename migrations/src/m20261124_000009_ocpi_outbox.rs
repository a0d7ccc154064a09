//! The OCPI push outbox: one row per push a partner is owed (OCPI 2.2.1 Locations and Tariffs,
//! Receiver interfaces). A row names the object and the operation, not the payload: the bridge
//! renders the object from current state when it delivers.

use sea_orm_migration::{prelude::*, schema::*};

/// Creates `ocpi_outbox`.
#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(OcpiOutbox::Table)
                    .col(big_integer(OcpiOutbox::Id).auto_increment().primary_key())
                    .col(big_integer(OcpiOutbox::PartnerId))
                    // `locations` or `tariffs` (the module identifier of the partner's endpoint).
                    .col(string_len(OcpiOutbox::Module, 32))
                    // Location id, `location_id/evse_uid`, or tariff id (each at most 36 chars).
                    .col(string_len(OcpiOutbox::ObjectKey, 80))
                    // PUT, PATCH or DELETE.
                    .col(string_len(OcpiOutbox::Operation, 8))
                    .col(timestamp_with_time_zone(OcpiOutbox::CreatedAt))
                    .col(integer(OcpiOutbox::Attempts))
                    .col(timestamp_with_time_zone(OcpiOutbox::NextAttemptAt))
                    // pending, delivered or parked.
                    .col(string_len(OcpiOutbox::State, 16))
                    .col(timestamp_with_time_zone_null(OcpiOutbox::ClaimedAt))
                    .col(text_null(OcpiOutbox::LastError))
                    .col(timestamp_with_time_zone_null(OcpiOutbox::DeliveredAt))
                    .to_owned(),
            )
            .await?;
        // The worker scans pending rows by state and due time.
        manager
            .create_index(
                Index::create()
                    .name("ix_ocpi_outbox_state_next")
                    .table(OcpiOutbox::Table)
                    .col(OcpiOutbox::State)
                    .col(OcpiOutbox::NextAttemptAt)
                    .to_owned(),
            )
            .await?;
        // Coalescing and in-order delivery look rows up by partner and object.
        manager
            .create_index(
                Index::create()
                    .name("ix_ocpi_outbox_partner_object")
                    .table(OcpiOutbox::Table)
                    .col(OcpiOutbox::PartnerId)
                    .col(OcpiOutbox::ObjectKey)
                    .col(OcpiOutbox::State)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(OcpiOutbox::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
enum OcpiOutbox {
    Table,
    Id,
    PartnerId,
    Module,
    ObjectKey,
    Operation,
    CreatedAt,
    Attempts,
    NextAttemptAt,
    State,
    ClaimedAt,
    LastError,
    DeliveredAt,
}
