//! OCPI partners: the eMSPs (or other platforms) registered through the credentials handshake,
//! with their roles, endpoints and the tokens linking us (hashed one way, encrypted the other).

use sea_orm_migration::{prelude::*, schema::*};

/// Creates `ocpi_partner`.
#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(OcpiPartner::Table)
                    .col(big_integer(OcpiPartner::Id).auto_increment().primary_key())
                    .col(string_null(OcpiPartner::Name))
                    .col(string(OcpiPartner::Status))
                    // SHA-256 of the token partners present: A (or our B while we initiate)
                    // until registration, then the registered token.
                    .col(string_null(OcpiPartner::PendingTokenHash))
                    .col(string_null(OcpiPartner::TokenHash))
                    // The token we present to the partner, AES-GCM encrypted.
                    .col(text_null(OcpiPartner::TheirToken))
                    .col(text_null(OcpiPartner::VersionsUrl))
                    .col(string_null(OcpiPartner::Version))
                    // The first role's identity, for lookups by party.
                    .col(string_null(OcpiPartner::CountryCode))
                    .col(string_null(OcpiPartner::PartyId))
                    // JSON arrays of the partner's roles and endpoints.
                    .col(text(OcpiPartner::Roles))
                    .col(text(OcpiPartner::Endpoints))
                    .col(timestamp_with_time_zone(OcpiPartner::CreatedAt))
                    .col(timestamp_with_time_zone(OcpiPartner::UpdatedAt))
                    .to_owned(),
            )
            .await?;
        // A token identifies exactly one partner (Transport and format: Authorization header).
        for (name, column) in [
            (
                "ux_ocpi_partner_pending_token",
                OcpiPartner::PendingTokenHash,
            ),
            ("ux_ocpi_partner_token", OcpiPartner::TokenHash),
        ] {
            manager
                .create_index(
                    Index::create()
                        .name(name)
                        .table(OcpiPartner::Table)
                        .col(column)
                        .unique()
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(OcpiPartner::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
enum OcpiPartner {
    Table,
    Id,
    Name,
    Status,
    PendingTokenHash,
    TokenHash,
    TheirToken,
    VersionsUrl,
    Version,
    CountryCode,
    PartyId,
    Roles,
    Endpoints,
    CreatedAt,
    UpdatedAt,
}
