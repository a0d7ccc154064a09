//! MeterValues: periodic or transaction-bound meter readings.

use rust_ocpp::v1_6::messages::meter_values::{MeterValuesRequest, MeterValuesResponse};
use rust_ocpp::v1_6::types::MeterValue;

use crate::port::{BackendError, EvseRef, MeterReading, MeterReport, SampledValue};
use crate::session::StationContext;
use crate::v16::wire_name;

/// OCPP 1.6 §7.31: the measurand defaults to the active import energy register.
const DEFAULT_MEASURAND: &str = "Energy.Active.Import.Register";

pub(crate) async fn handle(
    ctx: &StationContext,
    req: MeterValuesRequest,
) -> Result<MeterValuesResponse, BackendError> {
    let report = MeterReport {
        evse: EvseRef::from_v16_connector(req.connector_id),
        transaction_id: req.transaction_id.map(i64::from),
        readings: readings(req.meter_value),
    };
    ctx.backend.meter_values(&ctx.station_id, report).await?;
    Ok(MeterValuesResponse {})
}

/// Translates 1.6 meter values, keeping every sampled value and its attributes as sent.
pub(crate) fn readings(values: Vec<MeterValue>) -> Vec<MeterReading> {
    values
        .into_iter()
        .map(|mv| MeterReading {
            timestamp: mv.timestamp,
            values: mv
                .sampled_value
                .into_iter()
                .map(|sv| SampledValue {
                    value: sv.value,
                    measurand: sv
                        .measurand
                        .map(|m| wire_name(&m))
                        .unwrap_or_else(|| DEFAULT_MEASURAND.to_owned()),
                    phase: sv.phase.map(|p| wire_name(&p)),
                    unit: sv.unit.map(|u| wire_name(&u)),
                    context: sv.context.map(|c| wire_name(&c)),
                    location: sv.location.map(|l| wire_name(&l)),
                    format: sv.format.map(|f| wire_name(&f)),
                })
                .collect(),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn keeps_every_attribute_and_defaults_the_measurand() {
        let values: Vec<MeterValue> = serde_json::from_value(json!([{
            "timestamp": "2024-05-01T10:00:00Z",
            "sampledValue": [
                {"value": "1234.5"},
                {"value": "16.2", "measurand": "Current.Import", "phase": "L1", "unit": "A",
                 "context": "Sample.Periodic", "location": "Outlet", "format": "Raw"}
            ]
        }]))
        .unwrap();
        let readings = readings(values);
        let v = &readings[0].values;
        assert_eq!(v[0].measurand, "Energy.Active.Import.Register");
        assert_eq!(v[0].unit, None);
        assert_eq!(v[1].measurand, "Current.Import");
        assert_eq!(v[1].phase.as_deref(), Some("L1"));
        assert_eq!(v[1].unit.as_deref(), Some("A"));
        assert_eq!(v[1].context.as_deref(), Some("Sample.Periodic"));
        assert_eq!(v[1].location.as_deref(), Some("Outlet"));
        assert_eq!(v[1].format.as_deref(), Some("Raw"));
    }
}
