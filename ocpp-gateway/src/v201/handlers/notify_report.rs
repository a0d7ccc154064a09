//! NotifyReport: part of the station's device model, sent after a GetBaseReport (OCPP 2.0.1 B07).
//! Every attribute of every reported variable becomes one [`DeviceVariable`] the core upserts.

use chrono::{DateTime, Utc};
use rust_ocpp::v2_0_1::datatypes::component_type::ComponentType;
use rust_ocpp::v2_0_1::datatypes::variable_attribute_type::VariableAttributeType;
use rust_ocpp::v2_0_1::datatypes::variable_type::VariableType;
use rust_ocpp::v2_0_1::enumerations::data_enum_type::DataEnumType;
use rust_ocpp::v2_0_1::messages::notify_report::NotifyReportResponse;
use serde::Deserialize;
use serde_json::Number;

use super::{check_component_variable, component_evse};
use crate::port::{BackendError, DeviceVariable};
use crate::session::StationContext;
use crate::v201::{max_len, wire_name, Pdu};

/// The NotifyReport request. rust-ocpp 3.0's own type refuses an integer minLimit or maxLimit
/// (its optional arbitrary-precision decimal accepts only fractions), which the schema allows and
/// every real report contains; these mirror its types with the limits kept as JSON numbers.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct NotifyReportRequest {
    request_id: i32,
    #[serde(default)]
    tbc: Option<bool>,
    seq_no: i32,
    #[allow(dead_code)] // required by the schema; the CSMS has no use for it yet
    generated_at: DateTime<Utc>,
    #[serde(default)]
    report_data: Option<Vec<ReportDataType>>,
}

/// One reported variable (2.0.1 ReportDataType).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ReportDataType {
    component: ComponentType,
    variable: VariableType,
    variable_attribute: Vec<VariableAttributeType>,
    #[serde(default)]
    variable_characteristics: Option<VariableCharacteristicsType>,
}

/// What a variable is (2.0.1 VariableCharacteristicsType).
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct VariableCharacteristicsType {
    #[serde(default)]
    unit: Option<String>,
    data_type: DataEnumType,
    #[serde(default)]
    min_limit: Option<Number>,
    #[serde(default)]
    max_limit: Option<Number>,
    #[serde(default)]
    values_list: Option<String>,
    supports_monitoring: bool,
}

impl Pdu for NotifyReportRequest {
    fn check(&self) -> Result<(), String> {
        for data in self.report_data.iter().flatten() {
            check_component_variable(&data.component, &data.variable)?;
            // 2.0.1 VariableAttributeType: 1 to 4 attributes, values of at most 2500 characters.
            if data.variable_attribute.is_empty() || data.variable_attribute.len() > 4 {
                return Err("variableAttribute needs 1 to 4 entries".into());
            }
            for attribute in &data.variable_attribute {
                max_len("value", attribute.value.as_deref().unwrap_or(""), 2500)?;
            }
        }
        Ok(())
    }
}

pub(crate) async fn handle(
    ctx: &StationContext,
    req: NotifyReportRequest,
) -> Result<NotifyReportResponse, BackendError> {
    tracing::info!(station = %ctx.station_id, request_id = req.request_id, seq_no = req.seq_no, tbc = req.tbc.unwrap_or(false), "NotifyReport");
    let variables = device_variables(req.report_data.unwrap_or_default());
    ctx.backend
        .device_report(&ctx.station_id, variables)
        .await?;
    Ok(NotifyReportResponse {})
}

fn device_variables(report: Vec<ReportDataType>) -> Vec<DeviceVariable> {
    report
        .into_iter()
        .flat_map(|data| {
            let characteristics = data.variable_characteristics.clone();
            let evse = component_evse(&data.component);
            let component = data.component.name.clone();
            let component_instance = data.component.instance.clone();
            let variable = data.variable.name.clone();
            let variable_instance = data.variable.instance.clone();
            data.variable_attribute
                .into_iter()
                .map(move |attribute| DeviceVariable {
                    component: component.clone(),
                    component_instance: component_instance.clone(),
                    evse,
                    variable: variable.clone(),
                    variable_instance: variable_instance.clone(),
                    // 2.0.1 VariableAttributeType: the type defaults to Actual.
                    attribute_type: attribute
                        .kind
                        .map(|k| wire_name(&k))
                        .unwrap_or_else(|| "Actual".to_owned()),
                    value: attribute.value,
                    mutability: attribute.mutability.map(|m| wire_name(&m)),
                    persistent: attribute.persistent,
                    constant: attribute.constant,
                    data_type: characteristics.as_ref().map(|c| wire_name(&c.data_type)),
                    unit: characteristics.as_ref().and_then(|c| c.unit.clone()),
                    min_limit: characteristics
                        .as_ref()
                        .and_then(|c| c.min_limit.as_ref().map(Number::to_string)),
                    max_limit: characteristics
                        .as_ref()
                        .and_then(|c| c.max_limit.as_ref().map(Number::to_string)),
                    values_list: characteristics.as_ref().and_then(|c| c.values_list.clone()),
                    supports_monitoring: characteristics.as_ref().map(|c| c.supports_monitoring),
                })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::port::EvseRef;
    use serde_json::json;

    #[test]
    fn one_variable_per_attribute_with_its_characteristics() {
        let report: Vec<ReportDataType> = serde_json::from_value(json!([{
            "component": {"name": "EVSE", "evse": {"id": 1}},
            "variable": {"name": "Power"},
            "variableAttribute": [
                {"value": "22000", "mutability": "ReadOnly"},
                {"type": "MaxSet", "value": "11000", "mutability": "ReadWrite", "persistent": true}
            ],
            "variableCharacteristics": {"dataType": "decimal", "unit": "W", "maxLimit": 22000, "supportsMonitoring": true}
        }]))
        .unwrap();
        let vars = device_variables(report);
        assert_eq!(vars.len(), 2);
        assert_eq!(vars[0].attribute_type, "Actual");
        assert_eq!(vars[0].value.as_deref(), Some("22000"));
        assert_eq!(
            vars[0].evse,
            Some(EvseRef {
                evse_id: 1,
                connector_id: 0
            })
        );
        assert_eq!(vars[1].attribute_type, "MaxSet");
        assert_eq!(vars[1].mutability.as_deref(), Some("ReadWrite"));
        assert_eq!(vars[1].data_type.as_deref(), Some("decimal"));
        assert_eq!(vars[1].max_limit.as_deref(), Some("22000"));
        assert_eq!(vars[1].supports_monitoring, Some(true));
    }
}
