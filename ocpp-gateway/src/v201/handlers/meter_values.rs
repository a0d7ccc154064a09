//! MeterValues: readings of an EVSE (or, for EVSE 0, the main meter) outside TransactionEvents.

use rust_decimal::Decimal;
use rust_ocpp::v2_0_1::datatypes::meter_value_type::MeterValueType;
use rust_ocpp::v2_0_1::messages::meter_values::{MeterValuesRequest, MeterValuesResponse};

use crate::port::{BackendError, EvseRef, MeterReading, MeterReport, SampledValue};
use crate::session::StationContext;
use crate::v201::{at_least, wire_name, Pdu};

/// OCPP 2.0.1 SampledValueType: without a measurand the value is the active import register.
const DEFAULT_MEASURAND: &str = "Energy.Active.Import.Register";

impl Pdu for MeterValuesRequest {
    fn check(&self) -> Result<(), String> {
        at_least("evseId", self.evse_id, 0)?;
        check_meter_values(&self.meter_value)
    }
}

/// 2.0.1 MeterValueType: at least one reading, each with at least one sampled value.
pub(crate) fn check_meter_values(values: &[MeterValueType]) -> Result<(), String> {
    if values.is_empty() {
        return Err("meterValue needs at least one entry".into());
    }
    if values.iter().any(|v| v.sampled_value.is_empty()) {
        return Err("sampledValue needs at least one entry".into());
    }
    Ok(())
}

pub(crate) async fn handle(
    ctx: &StationContext,
    req: MeterValuesRequest,
) -> Result<MeterValuesResponse, BackendError> {
    let report = MeterReport {
        // 2.0.1 MeterValues name the EVSE only; connector 0 stands for the EVSE as a whole.
        evse: EvseRef {
            evse_id: req.evse_id,
            connector_id: 0,
        },
        // Readings of a transaction travel in TransactionEvent in 2.0.1.
        transaction_id: None,
        readings: readings(req.meter_value),
    };
    ctx.backend.meter_values(&ctx.station_id, report).await?;
    Ok(MeterValuesResponse {})
}

/// Translates 2.0.1 meter values. The unit's power-of-ten multiplier is applied here, so the core
/// sees a value in the unit it names (2.0.1 UnitOfMeasureType: value × 10^multiplier).
pub(crate) fn readings(values: Vec<MeterValueType>) -> Vec<MeterReading> {
    values
        .into_iter()
        .map(|mv| MeterReading {
            timestamp: mv.timestamp,
            values: mv
                .sampled_value
                .into_iter()
                .flat_map(|sv| {
                    let unit = sv.unit_of_measure.unwrap_or_default();
                    let value = scale(sv.value, unit.multiplier.unwrap_or(0));
                    let reading = SampledValue {
                        value: value.normalize().to_string(),
                        measurand: sv
                            .measurand
                            .map(|m| wire_name(&m))
                            .unwrap_or_else(|| DEFAULT_MEASURAND.to_owned()),
                        phase: sv.phase.map(|p| wire_name(&p)),
                        unit: unit.unit,
                        context: sv.context.map(|c| wire_name(&c)),
                        location: sv.location.map(|l| wire_name(&l)),
                        format: None,
                    };
                    // The value is always a number in 2.0.1; a signed meter's data rides
                    // along. It becomes a second value in the 1.6 shape (format SignedData, the
                    // signed data as the value), so the register stays a number and the CDR
                    // can pass the signed data through.
                    let signed = sv.signed_meter_value.map(|signed| SampledValue {
                        value: signed.signed_meter_data,
                        format: Some("SignedData".to_owned()),
                        ..reading.clone()
                    });
                    std::iter::once(reading).chain(signed)
                })
                .collect(),
        })
        .collect()
}

/// `value × 10^multiplier`, or the value unchanged when that leaves Decimal's range.
fn scale(value: Decimal, multiplier: i32) -> Decimal {
    let mut scaled = Some(value);
    for _ in 0..multiplier.unsigned_abs().min(28) {
        scaled = scaled.and_then(|v| {
            if multiplier > 0 {
                v.checked_mul(Decimal::TEN)
            } else {
                v.checked_div(Decimal::TEN)
            }
        });
    }
    scaled.unwrap_or(value)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn defaults_apply_and_the_multiplier_scales_the_value() {
        let values: Vec<MeterValueType> = serde_json::from_value(json!([{
            "timestamp": "2024-05-01T10:00:00Z",
            "sampledValue": [
                {"value": 1234.5},
                {"value": 12.5, "measurand": "Energy.Active.Import.Register",
                 "unitOfMeasure": {"unit": "Wh", "multiplier": 3}},
                {"value": 16.2, "measurand": "Current.Import", "phase": "L1",
                 "unitOfMeasure": {"unit": "A"}, "context": "Sample.Periodic", "location": "Outlet"}
            ]
        }]))
        .unwrap();
        let readings = readings(values);
        let v = &readings[0].values;
        assert_eq!(v[0].measurand, "Energy.Active.Import.Register");
        assert_eq!(v[0].value, "1234.5");
        assert_eq!(v[0].unit, None);
        assert_eq!(v[1].value, "12500");
        assert_eq!(v[1].unit.as_deref(), Some("Wh"));
        assert_eq!(v[2].measurand, "Current.Import");
        assert_eq!(v[2].phase.as_deref(), Some("L1"));
        assert_eq!(v[2].context.as_deref(), Some("Sample.Periodic"));
        assert_eq!(v[2].location.as_deref(), Some("Outlet"));
        assert_eq!(scale(Decimal::from(1500), -3), Decimal::new(15, 1));
    }

    #[test]
    fn a_signed_reading_keeps_its_number_and_brings_its_signed_data_beside_it() {
        let values: Vec<MeterValueType> = serde_json::from_value(json!([{
            "timestamp": "2024-05-01T10:00:00Z",
            "sampledValue": [{"value": 4000, "measurand": "Energy.Active.Import.Register",
                "unitOfMeasure": {"unit": "Wh"},
                "signedMeterValue": {"signedMeterData": "T0NNRnx7fQ==", "signingMethod": "ECDSA",
                    "encodingMethod": "OCMF", "publicKey": "MFkw"}}]
        }]))
        .unwrap();
        let readings = readings(values);
        let v = &readings[0].values;
        assert_eq!(v.len(), 2);
        assert_eq!(
            (v[0].value.as_str(), v[0].format.as_deref()),
            ("4000", None)
        );
        assert_eq!(
            (v[1].value.as_str(), v[1].format.as_deref()),
            ("T0NNRnx7fQ==", Some("SignedData"))
        );
        assert_eq!(v[1].measurand, "Energy.Active.Import.Register");
    }
}
