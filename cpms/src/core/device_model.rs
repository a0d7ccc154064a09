//! What 2.0.1 stations tell about themselves beyond transactions: the device model (NotifyReport,
//! one row per variable attribute, last report wins) and the event log (NotifyEvent,
//! SecurityEventNotification).

use chrono::{DateTime, Utc};
use ocpp_gateway::port::{DeviceVariable, StationEvent};
use sea_orm::sea_query::OnConflict;
use sea_orm::{
    ActiveValue::Set, ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder,
    QuerySelect, TransactionTrait,
};
use serde::Serialize;

use super::{Core, CoreError};
use crate::entities::{device_variable, station_event};

/// One attribute of one device-model variable, as the operator sees it.
#[derive(Debug, Clone, Serialize)]
pub struct DeviceVariableRecord {
    /// Component name.
    pub component: String,
    /// Component instance.
    pub component_instance: Option<String>,
    /// EVSE of the component, when per EVSE.
    pub evse_id: Option<i32>,
    /// Connector of the component, when per connector.
    pub connector_id: Option<i32>,
    /// Variable name.
    pub variable: String,
    /// Variable instance.
    pub variable_instance: Option<String>,
    /// `Actual`, `Target`, `MinSet` or `MaxSet`.
    pub attribute_type: String,
    /// Value, when readable.
    pub value: Option<String>,
    /// `ReadOnly`, `WriteOnly` or `ReadWrite`.
    pub mutability: Option<String>,
    /// Survives a reboot.
    pub persistent: Option<bool>,
    /// Never changes.
    pub constant: Option<bool>,
    /// Data type.
    pub data_type: Option<String>,
    /// Unit.
    pub unit: Option<String>,
    /// Lower limit.
    pub min_limit: Option<String>,
    /// Upper limit.
    pub max_limit: Option<String>,
    /// Allowed values of a list type.
    pub values_list: Option<String>,
    /// Whether it can be monitored.
    pub supports_monitoring: Option<bool>,
    /// When the CPMS last stored it.
    pub updated_at: DateTime<Utc>,
}

/// One entry of a station's event log.
#[derive(Debug, Clone, Serialize)]
pub struct StationEventRecord {
    /// Log entry id.
    pub id: i64,
    /// `NotifyEvent` or `SecurityEventNotification`.
    pub source: String,
    /// The station's event id (NotifyEvent).
    pub event_id: Option<i32>,
    /// Security event type, or the NotifyEvent trigger.
    pub event_type: String,
    /// When it happened at the station.
    pub timestamp: DateTime<Utc>,
    /// Component (NotifyEvent).
    pub component: Option<String>,
    /// Variable (NotifyEvent).
    pub variable: Option<String>,
    /// Value that caused the event.
    pub actual_value: Option<String>,
    /// Technical code.
    pub tech_code: Option<String>,
    /// Technical detail.
    pub tech_info: Option<String>,
    /// Whether the condition cleared.
    pub cleared: Option<bool>,
    /// Related station transaction id.
    pub station_transaction_id: Option<String>,
    /// Everything else the station sent.
    pub details: Option<serde_json::Value>,
    /// When the CPMS stored it.
    pub received_at: DateTime<Utc>,
}

fn non_empty(s: String) -> Option<String> {
    (!s.is_empty()).then_some(s)
}

impl From<device_variable::Model> for DeviceVariableRecord {
    fn from(m: device_variable::Model) -> Self {
        DeviceVariableRecord {
            component: m.component,
            component_instance: non_empty(m.component_instance),
            evse_id: (m.evse_id > 0).then_some(m.evse_id),
            connector_id: (m.connector_id > 0).then_some(m.connector_id),
            variable: m.variable,
            variable_instance: non_empty(m.variable_instance),
            attribute_type: m.attribute_type,
            value: m.value,
            mutability: m.mutability,
            persistent: m.persistent,
            constant: m.constant,
            data_type: m.data_type,
            unit: m.unit,
            min_limit: m.min_limit,
            max_limit: m.max_limit,
            values_list: m.values_list,
            supports_monitoring: m.supports_monitoring,
            updated_at: m.updated_at,
        }
    }
}

impl From<station_event::Model> for StationEventRecord {
    fn from(m: station_event::Model) -> Self {
        StationEventRecord {
            id: m.id,
            source: m.source,
            event_id: m.event_id,
            event_type: m.event_type,
            timestamp: m.timestamp,
            component: m.component,
            variable: m.variable,
            actual_value: m.actual_value,
            tech_code: m.tech_code,
            tech_info: m.tech_info,
            cleared: m.cleared,
            station_transaction_id: m.station_transaction_id,
            details: m.details,
            received_at: m.received_at,
        }
    }
}

impl Core {
    /// Upserts reported variable attributes: a later report of the same attribute replaces it.
    pub(crate) async fn record_device_variables(
        &self,
        station_id: &str,
        variables: Vec<DeviceVariable>,
    ) -> Result<(), CoreError> {
        let now = self.now();
        let txn = self.db.begin().await?;
        for v in variables {
            let row = device_variable::ActiveModel {
                id: sea_orm::ActiveValue::NotSet,
                station_id: Set(station_id.to_owned()),
                component: Set(v.component),
                component_instance: Set(v.component_instance.unwrap_or_default()),
                evse_id: Set(v.evse.map(|e| e.evse_id).unwrap_or(0)),
                connector_id: Set(v.evse.map(|e| e.connector_id).unwrap_or(0)),
                variable: Set(v.variable),
                variable_instance: Set(v.variable_instance.unwrap_or_default()),
                attribute_type: Set(v.attribute_type),
                value: Set(v.value),
                mutability: Set(v.mutability),
                persistent: Set(v.persistent),
                constant: Set(v.constant),
                data_type: Set(v.data_type),
                unit: Set(v.unit),
                min_limit: Set(v.min_limit),
                max_limit: Set(v.max_limit),
                values_list: Set(v.values_list),
                supports_monitoring: Set(v.supports_monitoring),
                updated_at: Set(now),
            };
            use device_variable::Column as C;
            device_variable::Entity::insert(row)
                .on_conflict(
                    OnConflict::columns([
                        C::StationId,
                        C::Component,
                        C::ComponentInstance,
                        C::EvseId,
                        C::ConnectorId,
                        C::Variable,
                        C::VariableInstance,
                        C::AttributeType,
                    ])
                    .update_columns([
                        C::Value,
                        C::Mutability,
                        C::Persistent,
                        C::Constant,
                        C::DataType,
                        C::Unit,
                        C::MinLimit,
                        C::MaxLimit,
                        C::ValuesList,
                        C::SupportsMonitoring,
                        C::UpdatedAt,
                    ])
                    .to_owned(),
                )
                .exec_without_returning(&txn)
                .await?;
        }
        txn.commit().await?;
        Ok(())
    }

    /// Appends entries to the station's event log.
    pub(crate) async fn record_station_events(
        &self,
        station_id: &str,
        events: Vec<StationEvent>,
    ) -> Result<(), CoreError> {
        let now = self.now();
        let rows: Vec<station_event::ActiveModel> = events
            .into_iter()
            .map(|e| station_event::ActiveModel {
                id: sea_orm::ActiveValue::NotSet,
                station_id: Set(station_id.to_owned()),
                source: Set(e.source),
                event_id: Set(e.event_id),
                event_type: Set(e.event_type),
                timestamp: Set(e.timestamp),
                component: Set(e.component),
                variable: Set(e.variable),
                actual_value: Set(e.actual_value),
                tech_code: Set(e.tech_code),
                tech_info: Set(e.tech_info),
                cleared: Set(e.cleared),
                station_transaction_id: Set(e.station_transaction_id),
                details: Set(e.details),
                received_at: Set(now),
            })
            .collect();
        // Bounded batches: SQLite limits bound parameters per statement.
        for chunk in rows.chunks(50) {
            station_event::Entity::insert_many(chunk.to_vec())
                .exec_without_returning(&self.db)
                .await?;
        }
        self.touch(station_id).await?;
        Ok(())
    }

    /// A station's device model, ordered by component and variable, with the total count.
    pub async fn device_variables(
        &self,
        station_id: &str,
        offset: u64,
        limit: u64,
    ) -> Result<(Vec<DeviceVariableRecord>, u64), CoreError> {
        use device_variable::Column as C;
        let query = device_variable::Entity::find().filter(C::StationId.eq(station_id));
        let total = query.clone().count(&self.db).await?;
        let rows = query
            .order_by_asc(C::Component)
            .order_by_asc(C::ComponentInstance)
            .order_by_asc(C::EvseId)
            .order_by_asc(C::ConnectorId)
            .order_by_asc(C::Variable)
            .order_by_asc(C::VariableInstance)
            .order_by_asc(C::AttributeType)
            .offset(offset)
            .limit(limit)
            .all(&self.db)
            .await?;
        Ok((rows.into_iter().map(Into::into).collect(), total))
    }

    /// A station's event log, oldest first, with the total count.
    pub async fn station_event_log(
        &self,
        station_id: &str,
        offset: u64,
        limit: u64,
    ) -> Result<(Vec<StationEventRecord>, u64), CoreError> {
        let query =
            station_event::Entity::find().filter(station_event::Column::StationId.eq(station_id));
        let total = query.clone().count(&self.db).await?;
        let rows = query
            .order_by_asc(station_event::Column::Timestamp)
            .order_by_asc(station_event::Column::Id)
            .offset(offset)
            .limit(limit)
            .all(&self.db)
            .await?;
        Ok((rows.into_iter().map(Into::into).collect(), total))
    }
}
