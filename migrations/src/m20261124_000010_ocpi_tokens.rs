//! Roaming tokens eMSP partners push to us (OCPI 2.2.1 Tokens module, CPO Receiver interface),
//! and the reference an eMSP's real-time authorization gave the transaction it allowed.

use sea_orm_migration::{prelude::*, schema::*};

/// Creates `ocpi_token` and adds `transaction.authorization_reference`.
#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(OcpiToken::Table)
                    .col(big_integer(OcpiToken::Id).auto_increment().primary_key())
                    // The registered partner that pushed it (and owns it).
                    .col(big_integer(OcpiToken::PartnerId))
                    .col(string_len(OcpiToken::CountryCode, 2))
                    .col(string_len(OcpiToken::PartyId, 3))
                    // Tokens: Token object: uid CiString(36), type TokenType.
                    .col(string_len(OcpiToken::Uid, 36))
                    .col(string_len(OcpiToken::TokenType, 16))
                    .col(string_len(OcpiToken::ContractId, 36))
                    .col(string_len_null(OcpiToken::VisualNumber, 64))
                    .col(string_len(OcpiToken::Issuer, 64))
                    .col(string_len_null(OcpiToken::GroupId, 36))
                    .col(boolean(OcpiToken::Valid))
                    // ALWAYS, ALLOWED, ALLOWED_OFFLINE or NEVER.
                    .col(string_len(OcpiToken::Whitelist, 16))
                    .col(string_len_null(OcpiToken::Language, 2))
                    .col(string_len_null(OcpiToken::DefaultProfileType, 16))
                    // EnergyContract as JSON.
                    .col(text_null(OcpiToken::EnergyContract))
                    .col(timestamp_with_time_zone(OcpiToken::LastUpdated))
                    .to_owned(),
            )
            .await?;
        // A token is identified by its owner's party, its uid and its type (Tokens: Receiver
        // interface URL); per partner so one partner can never overwrite another's.
        manager
            .create_index(
                Index::create()
                    .name("ux_ocpi_token_owner_uid_type")
                    .table(OcpiToken::Table)
                    .col(OcpiToken::PartnerId)
                    .col(OcpiToken::CountryCode)
                    .col(OcpiToken::PartyId)
                    .col(OcpiToken::Uid)
                    .col(OcpiToken::TokenType)
                    .unique()
                    .to_owned(),
            )
            .await?;
        // Authorization looks tokens up by the uid a station presents.
        manager
            .create_index(
                Index::create()
                    .name("ix_ocpi_token_uid")
                    .table(OcpiToken::Table)
                    .col(OcpiToken::Uid)
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(Transaction::Table)
                    .add_column(string_len_null(Transaction::AuthorizationReference, 36))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Transaction::Table)
                    .drop_column(Transaction::AuthorizationReference)
                    .to_owned(),
            )
            .await?;
        manager
            .drop_table(Table::drop().table(OcpiToken::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
enum OcpiToken {
    Table,
    Id,
    PartnerId,
    CountryCode,
    PartyId,
    Uid,
    TokenType,
    ContractId,
    VisualNumber,
    Issuer,
    GroupId,
    Valid,
    Whitelist,
    Language,
    DefaultProfileType,
    EnergyContract,
    LastUpdated,
}

#[derive(DeriveIden)]
enum Transaction {
    Table,
    AuthorizationReference,
}
