//! OCPP 2.0.1: the station's own transaction id beside ours, every TransactionEvent (so a replay
//! is recognised), the device model from NotifyReport, and the station's event log (NotifyEvent,
//! SecurityEventNotification).

use sea_orm_migration::{prelude::*, schema::*};

/// Adds what OCPP 2.0.1 stations need stored.
#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // SQLite adds one column per ALTER TABLE.
        manager
            .alter_table(
                Table::alter()
                    .table(Transaction::Table)
                    .add_column(string_null(Transaction::StationTransactionId))
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(Transaction::Table)
                    .add_column(integer_null(Transaction::RemoteStartId))
                    .to_owned(),
            )
            .await?;
        // A 2.0.1 station names its transactions itself; 1.6 rows leave it NULL, and NULLs never
        // collide in a unique index on either backend.
        manager
            .create_index(
                Index::create()
                    .name("ux_transaction_station_tx")
                    .table(Transaction::Table)
                    .col(Transaction::StationId)
                    .col(Transaction::StationTransactionId)
                    .unique()
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(TransactionEvent::Table)
                    .col(
                        big_integer(TransactionEvent::Id)
                            .auto_increment()
                            .primary_key(),
                    )
                    .col(string(TransactionEvent::StationId))
                    .col(string(TransactionEvent::StationTransactionId))
                    .col(big_integer(TransactionEvent::SeqNo))
                    .col(integer(TransactionEvent::TransactionId))
                    .col(string(TransactionEvent::EventType))
                    .col(timestamp_with_time_zone(TransactionEvent::Timestamp))
                    .col(string(TransactionEvent::TriggerReason))
                    .col(boolean(TransactionEvent::Offline))
                    .col(integer_null(TransactionEvent::EvseId))
                    .col(integer_null(TransactionEvent::ConnectorId))
                    .col(string_null(TransactionEvent::IdToken))
                    .col(string_null(TransactionEvent::ChargingState))
                    .col(string_null(TransactionEvent::StoppedReason))
                    .col(integer_null(TransactionEvent::RemoteStartId))
                    .col(integer_null(TransactionEvent::ReservationId))
                    // The event's energy register readings, earliest and latest by time, so the
                    // transaction can be derived from its events alone (decimal text, in Wh).
                    .col(string_null(TransactionEvent::FirstRegisterWh))
                    .col(timestamp_with_time_zone_null(
                        TransactionEvent::FirstRegisterAt,
                    ))
                    .col(string_null(TransactionEvent::LastRegisterWh))
                    .col(timestamp_with_time_zone_null(
                        TransactionEvent::LastRegisterAt,
                    ))
                    .col(timestamp_with_time_zone(TransactionEvent::ReceivedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_transaction_event_station")
                            .from(TransactionEvent::Table, TransactionEvent::StationId)
                            .to(Station::Table, Station::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_transaction_event_transaction")
                            .from(TransactionEvent::Table, TransactionEvent::TransactionId)
                            .to(Transaction::Table, Transaction::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        // OCPP 2.0.1 E: a station replays events after being offline and resends one whose
        // answer it lost; this key makes each event count once.
        manager
            .create_index(
                Index::create()
                    .name("ux_transaction_event_seq")
                    .table(TransactionEvent::Table)
                    .col(TransactionEvent::StationId)
                    .col(TransactionEvent::StationTransactionId)
                    .col(TransactionEvent::SeqNo)
                    .unique()
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_transaction_event_transaction")
                    .table(TransactionEvent::Table)
                    .col(TransactionEvent::TransactionId)
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(DeviceVariable::Table)
                    .col(
                        big_integer(DeviceVariable::Id)
                            .auto_increment()
                            .primary_key(),
                    )
                    .col(string(DeviceVariable::StationId))
                    .col(string(DeviceVariable::Component))
                    // Absent instances and EVSEs are stored as "" and 0 (EVSE ids start at 1),
                    // so the unique key below sees them as equal, which NULLs never are.
                    .col(string(DeviceVariable::ComponentInstance))
                    .col(integer(DeviceVariable::EvseId))
                    .col(integer(DeviceVariable::ConnectorId))
                    .col(string(DeviceVariable::Variable))
                    .col(string(DeviceVariable::VariableInstance))
                    .col(string(DeviceVariable::AttributeType))
                    // 2.0.1 attribute values run to 2500 characters.
                    .col(text_null(DeviceVariable::Value))
                    .col(string_null(DeviceVariable::Mutability))
                    .col(boolean_null(DeviceVariable::Persistent))
                    .col(boolean_null(DeviceVariable::Constant))
                    .col(string_null(DeviceVariable::DataType))
                    .col(string_null(DeviceVariable::Unit))
                    .col(string_null(DeviceVariable::MinLimit))
                    .col(string_null(DeviceVariable::MaxLimit))
                    .col(text_null(DeviceVariable::ValuesList))
                    .col(boolean_null(DeviceVariable::SupportsMonitoring))
                    .col(timestamp_with_time_zone(DeviceVariable::UpdatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_device_variable_station")
                            .from(DeviceVariable::Table, DeviceVariable::StationId)
                            .to(Station::Table, Station::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ux_device_variable")
                    .table(DeviceVariable::Table)
                    .col(DeviceVariable::StationId)
                    .col(DeviceVariable::Component)
                    .col(DeviceVariable::ComponentInstance)
                    .col(DeviceVariable::EvseId)
                    .col(DeviceVariable::ConnectorId)
                    .col(DeviceVariable::Variable)
                    .col(DeviceVariable::VariableInstance)
                    .col(DeviceVariable::AttributeType)
                    .unique()
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(StationEvent::Table)
                    .col(big_integer(StationEvent::Id).auto_increment().primary_key())
                    .col(string(StationEvent::StationId))
                    .col(string(StationEvent::Source))
                    .col(integer_null(StationEvent::EventId))
                    .col(string(StationEvent::EventType))
                    .col(timestamp_with_time_zone(StationEvent::Timestamp))
                    .col(string_null(StationEvent::Component))
                    .col(string_null(StationEvent::Variable))
                    .col(text_null(StationEvent::ActualValue))
                    .col(string_null(StationEvent::TechCode))
                    .col(text_null(StationEvent::TechInfo))
                    .col(boolean_null(StationEvent::Cleared))
                    .col(string_null(StationEvent::StationTransactionId))
                    .col(json_null(StationEvent::Details))
                    .col(timestamp_with_time_zone(StationEvent::ReceivedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_station_event_station")
                            .from(StationEvent::Table, StationEvent::StationId)
                            .to(Station::Table, Station::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_station_event_station_time")
                    .table(StationEvent::Table)
                    .col(StationEvent::StationId)
                    .col(StationEvent::Timestamp)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            StationEvent::Table.into_iden(),
            DeviceVariable::Table.into_iden(),
            TransactionEvent::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(table).to_owned())
                .await?;
        }
        manager
            .drop_index(
                Index::drop()
                    .name("ux_transaction_station_tx")
                    .table(Transaction::Table)
                    .to_owned(),
            )
            .await?;
        for column in [
            Transaction::RemoteStartId,
            Transaction::StationTransactionId,
        ] {
            manager
                .alter_table(
                    Table::alter()
                        .table(Transaction::Table)
                        .drop_column(column)
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }
}

#[derive(DeriveIden)]
enum Station {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum Transaction {
    Table,
    Id,
    StationId,
    StationTransactionId,
    RemoteStartId,
}

#[derive(DeriveIden)]
enum TransactionEvent {
    Table,
    Id,
    StationId,
    StationTransactionId,
    SeqNo,
    TransactionId,
    EventType,
    Timestamp,
    TriggerReason,
    Offline,
    EvseId,
    ConnectorId,
    IdToken,
    ChargingState,
    StoppedReason,
    RemoteStartId,
    ReservationId,
    FirstRegisterWh,
    FirstRegisterAt,
    LastRegisterWh,
    LastRegisterAt,
    ReceivedAt,
}

#[derive(DeriveIden)]
enum DeviceVariable {
    Table,
    Id,
    StationId,
    Component,
    ComponentInstance,
    EvseId,
    ConnectorId,
    Variable,
    VariableInstance,
    AttributeType,
    Value,
    Mutability,
    Persistent,
    Constant,
    DataType,
    Unit,
    MinLimit,
    MaxLimit,
    ValuesList,
    SupportsMonitoring,
    UpdatedAt,
}

// Variants are the column names; `StationEvent::EventId` repeats the table's name by design.
#[allow(clippy::enum_variant_names)]
#[derive(DeriveIden)]
enum StationEvent {
    Table,
    Id,
    StationId,
    Source,
    EventId,
    EventType,
    Timestamp,
    Component,
    Variable,
    ActualValue,
    TechCode,
    TechInfo,
    Cleared,
    StationTransactionId,
    Details,
    ReceivedAt,
}
