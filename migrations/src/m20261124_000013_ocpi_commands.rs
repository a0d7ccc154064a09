//! OCPI Commands, CPO Receiver interface (OCPI 2.2.1 Commands module): each command an eMSP
//! sent, what was asked of the station, and the CommandResult owed to the eMSP's
//! `response_url`. A row outlives a restart, so a result is delivered even when the process
//! stopped between the station's answer (or the start window) and the POST.

use sea_orm_migration::{prelude::*, schema::*};

/// Creates `ocpi_command`.
#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(OcpiCommand::Table)
                    .col(big_integer(OcpiCommand::Id).auto_increment().primary_key())
                    // The registered partner that sent it; the result goes to it only.
                    .col(big_integer(OcpiCommand::PartnerId))
                    // Commands: CommandType enum.
                    .col(string_len(OcpiCommand::Command, 24))
                    .col(text(OcpiCommand::ResponseUrl))
                    // sending, awaiting (the station accepted; its effect is awaited) or done.
                    .col(string_len(OcpiCommand::State, 16))
                    .col(string_len_null(OcpiCommand::StationId, 64))
                    .col(integer_null(OcpiCommand::EvseId))
                    .col(integer_null(OcpiCommand::ConnectorId))
                    .col(string_len_null(OcpiCommand::LocationId, 36))
                    .col(string_len_null(OcpiCommand::IdToken, 36))
                    .col(big_integer_null(OcpiCommand::OcpiTokenId))
                    .col(string_len_null(OcpiCommand::AuthorizationReference, 36))
                    .col(integer_null(OcpiCommand::RemoteStartId))
                    .col(integer_null(OcpiCommand::TransactionId))
                    // The eMSP's reservation id (CiString(36)) and the one the station knows.
                    .col(string_len_null(OcpiCommand::ReservationId, 36))
                    .col(integer_null(OcpiCommand::StationReservationId))
                    .col(timestamp_with_time_zone_null(OcpiCommand::Deadline))
                    // The status the station answered, verbatim; NULL while it has not.
                    .col(string_len_null(OcpiCommand::StationAnswer, 36))
                    // Commands: CommandResultType enum, once known.
                    .col(string_len_null(OcpiCommand::Result, 24))
                    .col(text_null(OcpiCommand::Message))
                    .col(timestamp_with_time_zone(OcpiCommand::CreatedAt))
                    .col(timestamp_with_time_zone(OcpiCommand::UpdatedAt))
                    .to_owned(),
            )
            .await?;
        // The worker looks at the commands still waiting for their result.
        manager
            .create_index(
                Index::create()
                    .name("ix_ocpi_command_state")
                    .table(OcpiCommand::Table)
                    .col(OcpiCommand::State)
                    .to_owned(),
            )
            .await?;
        // CANCEL_RESERVATION finds the partner's RESERVE_NOW by its reservation id.
        manager
            .create_index(
                Index::create()
                    .name("ix_ocpi_command_partner_reservation")
                    .table(OcpiCommand::Table)
                    .col(OcpiCommand::PartnerId)
                    .col(OcpiCommand::ReservationId)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(OcpiCommand::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
enum OcpiCommand {
    Table,
    Id,
    PartnerId,
    Command,
    ResponseUrl,
    State,
    StationId,
    EvseId,
    ConnectorId,
    LocationId,
    IdToken,
    OcpiTokenId,
    AuthorizationReference,
    RemoteStartId,
    TransactionId,
    ReservationId,
    StationReservationId,
    Deadline,
    StationAnswer,
    Result,
    Message,
    CreatedAt,
    UpdatedAt,
}
