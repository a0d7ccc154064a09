//! OCPI CDRs (OCPI 2.2.1 CDRs module, CPO Sender interface and the push to the owning eMSP's
//! Receiver): the CDR of each completed roaming session, frozen at creation, and the roaming
//! sessions that could not become one, with the reason.

use sea_orm_migration::{prelude::*, schema::*};

/// Creates `ocpi_cdr` and `ocpi_unbillable_session`.
#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(OcpiCdr::Table)
                    .col(big_integer(OcpiCdr::Id).auto_increment().primary_key())
                    // CDRs: CDR object, id: CiString(39) (36 for a normal CDR).
                    .col(string_len(OcpiCdr::CdrId, 39))
                    .col(big_integer(OcpiCdr::PartnerId))
                    // The session's transaction; null for a credit CDR.
                    .col(integer_null(OcpiCdr::TransactionId))
                    .col(string_len_null(OcpiCdr::CreditReferenceId, 39))
                    // The CDR as created (without our party and currency): it never changes.
                    .col(text(OcpiCdr::Body))
                    .col(timestamp_with_time_zone(OcpiCdr::CreatedAt))
                    // The eMSP's URL of the CDR (CDRs: POST response header Location).
                    .col(text_null(OcpiCdr::LocationUrl))
                    .col(timestamp_with_time_zone_null(OcpiCdr::DeliveredAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ux_ocpi_cdr_cdr_id")
                    .table(OcpiCdr::Table)
                    .col(OcpiCdr::CdrId)
                    .unique()
                    .to_owned(),
            )
            .await?;
        // Exactly one CDR per session; credits (null) are not counted.
        manager
            .create_index(
                Index::create()
                    .name("ux_ocpi_cdr_transaction")
                    .table(OcpiCdr::Table)
                    .col(OcpiCdr::TransactionId)
                    .unique()
                    .to_owned(),
            )
            .await?;
        // At most one credit per CDR.
        manager
            .create_index(
                Index::create()
                    .name("ux_ocpi_cdr_credit_reference")
                    .table(OcpiCdr::Table)
                    .col(OcpiCdr::CreditReferenceId)
                    .unique()
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_ocpi_cdr_partner")
                    .table(OcpiCdr::Table)
                    .col(OcpiCdr::PartnerId)
                    .col(OcpiCdr::CreatedAt)
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(OcpiUnbillableSession::Table)
                    .col(
                        big_integer(OcpiUnbillableSession::Id)
                            .auto_increment()
                            .primary_key(),
                    )
                    .col(integer(OcpiUnbillableSession::TransactionId))
                    .col(big_integer(OcpiUnbillableSession::PartnerId))
                    // no_location, no_token, no_meter_data, meter_went_backwards, no_tariff,
                    // pricing_failed, unreadable_data, not_stopped.
                    .col(string_len(OcpiUnbillableSession::Reason, 32))
                    .col(text(OcpiUnbillableSession::Detail))
                    .col(timestamp_with_time_zone(OcpiUnbillableSession::CreatedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ux_ocpi_unbillable_transaction")
                    .table(OcpiUnbillableSession::Table)
                    .col(OcpiUnbillableSession::TransactionId)
                    .unique()
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(OcpiUnbillableSession::Table).to_owned())
            .await?;
        manager
            .drop_table(Table::drop().table(OcpiCdr::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
enum OcpiCdr {
    Table,
    Id,
    CdrId,
    PartnerId,
    TransactionId,
    CreditReferenceId,
    Body,
    CreatedAt,
    LocationUrl,
    DeliveredAt,
}

#[derive(DeriveIden)]
enum OcpiUnbillableSession {
    Table,
    Id,
    TransactionId,
    PartnerId,
    Reason,
    Detail,
    CreatedAt,
}
