//! The initial CPMS schema: stations, their connectors, transactions with
//! their meter samples, authorisation tokens and key/value settings.

use sea_orm_migration::{prelude::*, schema::*};

/// Creates every table and index of the first release.
#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Station::Table)
                    .col(string(Station::Id).primary_key())
                    .col(string_null(Station::Vendor))
                    .col(string_null(Station::Model))
                    .col(string_null(Station::SerialNumber))
                    .col(string_null(Station::FirmwareVersion))
                    .col(string_null(Station::Iccid))
                    .col(string_null(Station::Imsi))
                    .col(string_null(Station::MeterSerialNumber))
                    .col(string_null(Station::MeterType))
                    .col(string_null(Station::Protocol))
                    .col(string(Station::RegistrationStatus))
                    .col(string_null(Station::PasswordHash))
                    .col(string_null(Station::FirmwareStatus))
                    .col(string_null(Station::DiagnosticsStatus))
                    .col(timestamp_with_time_zone_null(Station::LastSeen))
                    .col(timestamp_with_time_zone_null(Station::LastBoot))
                    .col(timestamp_with_time_zone(Station::CreatedAt))
                    .col(timestamp_with_time_zone(Station::UpdatedAt))
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(Connector::Table)
                    .col(string(Connector::StationId))
                    .col(integer(Connector::EvseId))
                    .col(integer(Connector::ConnectorId))
                    .col(string(Connector::Status))
                    .col(string(Connector::SourceStatus))
                    .col(string_null(Connector::ErrorCode))
                    .col(string_null(Connector::Info))
                    .col(string_null(Connector::VendorId))
                    .col(string_null(Connector::VendorErrorCode))
                    .col(timestamp_with_time_zone(Connector::StatusAt))
                    .col(timestamp_with_time_zone(Connector::UpdatedAt))
                    .primary_key(
                        Index::create()
                            .col(Connector::StationId)
                            .col(Connector::EvseId)
                            .col(Connector::ConnectorId),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_connector_station")
                            .from(Connector::Table, Connector::StationId)
                            .to(Station::Table, Station::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(Transaction::Table)
                    // OCPP 1.6 transactionId is an int32, so a plain integer
                    // serial is the id we hand to the station.
                    .col(pk_auto(Transaction::Id))
                    .col(string(Transaction::StationId))
                    .col(integer(Transaction::EvseId))
                    .col(integer(Transaction::ConnectorId))
                    .col(string(Transaction::IdToken))
                    .col(string(Transaction::AuthorizationStatus))
                    .col(string(Transaction::State))
                    .col(timestamp_with_time_zone(Transaction::StartedAt))
                    .col(timestamp_with_time_zone_null(Transaction::StoppedAt))
                    // Energy readings are decimals kept as text: SQLite has no
                    // exact decimal type, and the core parses them into
                    // rust_decimal.
                    .col(string(Transaction::MeterStartWh))
                    .col(string_null(Transaction::MeterStopWh))
                    .col(string_null(Transaction::LastMeterWh))
                    .col(timestamp_with_time_zone_null(Transaction::LastMeterAt))
                    .col(string_null(Transaction::StopReason))
                    .col(string_null(Transaction::StopIdToken))
                    .col(integer_null(Transaction::ReservationId))
                    .col(timestamp_with_time_zone(Transaction::CreatedAt))
                    .col(timestamp_with_time_zone(Transaction::UpdatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_transaction_station")
                            .from(Transaction::Table, Transaction::StationId)
                            .to(Station::Table, Station::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;

        // A station that lost the StartTransaction.conf retransmits the
        // request; this key lets the core find the first copy instead of
        // opening a second transaction for the same start.
        manager
            .create_index(
                Index::create()
                    .name("ux_transaction_start")
                    .table(Transaction::Table)
                    .col(Transaction::StationId)
                    .col(Transaction::EvseId)
                    .col(Transaction::StartedAt)
                    .unique()
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_transaction_station_state")
                    .table(Transaction::Table)
                    .col(Transaction::StationId)
                    .col(Transaction::State)
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_transaction_started_at")
                    .table(Transaction::Table)
                    .col(Transaction::StartedAt)
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_transaction_id_token")
                    .table(Transaction::Table)
                    .col(Transaction::IdToken)
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(MeterSample::Table)
                    // SQLite only auto-increments an `integer primary key`;
                    // sea-query writes this column as that there (SQLite's
                    // integers are 64-bit anyway) and as bigserial on
                    // PostgreSQL. The schema test checks both.
                    .col(big_integer(MeterSample::Id).auto_increment().primary_key())
                    .col(string(MeterSample::StationId))
                    .col(integer(MeterSample::EvseId))
                    .col(integer(MeterSample::ConnectorId))
                    .col(integer_null(MeterSample::TransactionId))
                    .col(timestamp_with_time_zone(MeterSample::Timestamp))
                    .col(string(MeterSample::Measurand))
                    .col(string_null(MeterSample::Phase))
                    .col(string_null(MeterSample::Unit))
                    // Signed meter values (OCMF and the like) run to several
                    // kilobytes, past what a varchar is meant for.
                    .col(text(MeterSample::Value))
                    .col(string_null(MeterSample::Context))
                    .col(string_null(MeterSample::Location))
                    .col(string_null(MeterSample::Format))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_meter_sample_station")
                            .from(MeterSample::Table, MeterSample::StationId)
                            .to(Station::Table, Station::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_meter_sample_transaction")
                            .from(MeterSample::Table, MeterSample::TransactionId)
                            .to(Transaction::Table, Transaction::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_meter_sample_transaction")
                    .table(MeterSample::Table)
                    .col(MeterSample::TransactionId)
                    .col(MeterSample::Timestamp)
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_meter_sample_station_time")
                    .table(MeterSample::Table)
                    .col(MeterSample::StationId)
                    .col(MeterSample::Timestamp)
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(IdToken::Table)
                    .col(string(IdToken::IdToken).primary_key())
                    .col(string(IdToken::Status))
                    .col(timestamp_with_time_zone_null(IdToken::ExpiryDate))
                    .col(string_null(IdToken::GroupIdToken))
                    .col(timestamp_with_time_zone(IdToken::CreatedAt))
                    .col(timestamp_with_time_zone(IdToken::UpdatedAt))
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(Setting::Table)
                    .col(string(Setting::Key).primary_key())
                    .col(text(Setting::Value))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // Children before parents, so no foreign key is left dangling even
        // on a backend that checks them at drop time.
        for table in [
            MeterSample::Table.into_iden(),
            Transaction::Table.into_iden(),
            Connector::Table.into_iden(),
            IdToken::Table.into_iden(),
            Setting::Table.into_iden(),
            Station::Table.into_iden(),
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
    Vendor,
    Model,
    SerialNumber,
    FirmwareVersion,
    Iccid,
    Imsi,
    MeterSerialNumber,
    MeterType,
    Protocol,
    RegistrationStatus,
    PasswordHash,
    FirmwareStatus,
    DiagnosticsStatus,
    LastSeen,
    LastBoot,
    CreatedAt,
    UpdatedAt,
}

// Variants are the column names, which repeat the table's name by design.
#[allow(clippy::enum_variant_names)]
#[derive(DeriveIden)]
enum Connector {
    Table,
    StationId,
    EvseId,
    ConnectorId,
    Status,
    SourceStatus,
    ErrorCode,
    Info,
    VendorId,
    VendorErrorCode,
    StatusAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum Transaction {
    Table,
    Id,
    StationId,
    EvseId,
    ConnectorId,
    IdToken,
    AuthorizationStatus,
    State,
    StartedAt,
    StoppedAt,
    MeterStartWh,
    MeterStopWh,
    LastMeterWh,
    LastMeterAt,
    StopReason,
    StopIdToken,
    ReservationId,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum MeterSample {
    Table,
    Id,
    StationId,
    EvseId,
    ConnectorId,
    TransactionId,
    Timestamp,
    Measurand,
    Phase,
    Unit,
    Value,
    Context,
    Location,
    Format,
}

// Variants are the column names, which repeat the table's name by design.
#[allow(clippy::enum_variant_names)]
#[derive(DeriveIden)]
enum IdToken {
    Table,
    IdToken,
    Status,
    ExpiryDate,
    GroupIdToken,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum Setting {
    Table,
    Key,
    Value,
}
