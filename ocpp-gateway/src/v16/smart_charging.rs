//! Smart charging on 1.6 stations (OCPP 1.6 §3.13, §5.5, §5.7, §5.16): the version-neutral
//! charging-profile model becomes rust-ocpp's 1.6 types, and a composite schedule comes back as the
//! model. rust-ocpp's 1.6 types match the schema (SetChargingProfile.json, ClearChargingProfile.json,
//! GetCompositeSchedule.json) except that they cannot express `multipleOf: 0.1` on `limit` and
//! `minChargingRate`, which is checked here before sending.

use rust_decimal::Decimal;
use rust_ocpp::v1_6::messages as m;
use rust_ocpp::v1_6::types as t;
use serde_json::Value;

use super::{decode, wire_name, Pdu};
use crate::port::{
    ChargingProfile, ChargingProfileCriteria, ChargingProfileKind, ChargingProfilePurpose,
    ChargingRateUnit, ChargingSchedule, ChargingSchedulePeriod, CommandError, CommandReply,
    CompositeSchedule, RecurrencyKind,
};

impl Pdu for m::set_charging_profile::SetChargingProfileResponse {}
impl Pdu for m::clear_charging_profile::ClearChargingProfileResponse {}
impl Pdu for m::get_composite_schedule::GetCompositeScheduleResponse {}

fn to_value<T: serde::Serialize>(
    action: &'static str,
    request: T,
) -> Result<(&'static str, Value), CommandError> {
    serde_json::to_value(request)
        .map(|v| (action, v))
        .map_err(|e| CommandError::Unsupported(e.to_string()))
}

fn unsupported(message: impl Into<String>) -> CommandError {
    CommandError::Unsupported(message.into())
}

/// 1.6 schema: `limit` and `minChargingRate` are `multipleOf: 0.1`.
fn tenths(value: Decimal, what: &str) -> Result<Decimal, CommandError> {
    if (value * Decimal::TEN).fract().is_zero() {
        Ok(value)
    } else {
        Err(unsupported(format!(
            "OCPP 1.6 takes {what} in steps of 0.1, not {value}"
        )))
    }
}

fn purpose(p: ChargingProfilePurpose) -> t::ChargingProfilePurposeType {
    match p {
        ChargingProfilePurpose::ChargingStationMaxProfile => {
            t::ChargingProfilePurposeType::ChargePointMaxProfile
        }
        ChargingProfilePurpose::TxDefaultProfile => t::ChargingProfilePurposeType::TxDefaultProfile,
        ChargingProfilePurpose::TxProfile => t::ChargingProfilePurposeType::TxProfile,
    }
}

fn unit(u: ChargingRateUnit) -> t::ChargingRateUnitType {
    match u {
        ChargingRateUnit::A => t::ChargingRateUnitType::A,
        ChargingRateUnit::W => t::ChargingRateUnitType::W,
    }
}

fn schedule(s: &ChargingSchedule) -> Result<t::ChargingSchedule, CommandError> {
    Ok(t::ChargingSchedule {
        duration: s.duration,
        start_schedule: s.start_schedule,
        charging_rate_unit: unit(s.charging_rate_unit),
        charging_schedule_period: s
            .periods
            .iter()
            .map(|p| {
                Ok(t::ChargingSchedulePeriod {
                    start_period: p.start_period,
                    limit: tenths(p.limit, "limits")?,
                    number_phases: p.number_phases,
                })
            })
            .collect::<Result<_, CommandError>>()?,
        min_charging_rate: s
            .min_charging_rate
            .map(|r| tenths(r, "min_charging_rate"))
            .transpose()?,
    })
}

/// SetChargingProfile for `profile` on connector `evse_id`. A 1.6 station knows transactions by
/// the CPMS's own (int32) id.
pub(crate) fn set_charging_profile(
    evse_id: i32,
    profile: &ChargingProfile,
) -> Result<(&'static str, Value), CommandError> {
    to_value(
        "SetChargingProfile",
        m::set_charging_profile::SetChargingProfileRequest {
            connector_id: evse_id,
            cs_charging_profiles: t::ChargingProfile {
                charging_profile_id: profile.id,
                transaction_id: profile
                    .transaction_id
                    .map(|id| {
                        i32::try_from(id)
                            .map_err(|_| unsupported("transaction id out of the 1.6 int32 range"))
                    })
                    .transpose()?,
                stack_level: u32::try_from(profile.stack_level)
                    .map_err(|_| unsupported("stack level must be 0 or more"))?,
                charging_profile_purpose: purpose(profile.purpose),
                charging_profile_kind: match profile.kind {
                    ChargingProfileKind::Absolute => t::ChargingProfileKindType::Absolute,
                    ChargingProfileKind::Recurring => t::ChargingProfileKindType::Recurring,
                    ChargingProfileKind::Relative => t::ChargingProfileKindType::Relative,
                },
                recurrency_kind: profile.recurrency.map(|r| match r {
                    RecurrencyKind::Daily => t::RecurrencyKindType::Daily,
                    RecurrencyKind::Weekly => t::RecurrencyKindType::Weekly,
                }),
                valid_from: profile.valid_from,
                valid_to: profile.valid_to,
                charging_schedule: schedule(&profile.schedule)?,
            },
        },
    )
}

/// ClearChargingProfile: each criterion given narrows the profiles cleared (1.6 §5.5).
pub(crate) fn clear_charging_profile(
    criteria: &ChargingProfileCriteria,
) -> Result<(&'static str, Value), CommandError> {
    to_value(
        "ClearChargingProfile",
        m::clear_charging_profile::ClearChargingProfileRequest {
            id: criteria.id,
            connector_id: criteria.evse_id,
            charging_profile_purpose: criteria.purpose.map(purpose),
            stack_level: criteria.stack_level,
        },
    )
}

/// GetCompositeSchedule for connector `evse_id`.
pub(crate) fn get_composite_schedule(
    evse_id: i32,
    duration: i32,
    charging_rate_unit: Option<ChargingRateUnit>,
) -> Result<(&'static str, Value), CommandError> {
    to_value(
        "GetCompositeSchedule",
        m::get_composite_schedule::GetCompositeScheduleRequest {
            connector_id: evse_id,
            duration,
            charging_rate_unit: charging_rate_unit.map(unit),
        },
    )
}

fn from_schedule(s: t::ChargingSchedule) -> ChargingSchedule {
    ChargingSchedule {
        duration: s.duration,
        start_schedule: s.start_schedule,
        charging_rate_unit: match s.charging_rate_unit {
            t::ChargingRateUnitType::A => ChargingRateUnit::A,
            t::ChargingRateUnitType::W => ChargingRateUnit::W,
        },
        min_charging_rate: s.min_charging_rate,
        periods: s
            .charging_schedule_period
            .into_iter()
            .map(|p| ChargingSchedulePeriod {
                start_period: p.start_period,
                limit: p.limit,
                number_phases: p.number_phases,
            })
            .collect(),
    }
}

/// The smart-charging answers, `None` for any other action.
pub(crate) fn decode_reply(
    station_id: &str,
    action: &str,
    reply: Value,
) -> Option<Result<CommandReply, CommandError>> {
    fn parsed<T: Pdu>(station_id: &str, reply: Value) -> Result<T, CommandError> {
        decode(station_id, reply).map_err(|e| CommandError::InvalidReply(e.description))
    }
    Some(match action {
        "SetChargingProfile" => parsed::<m::set_charging_profile::SetChargingProfileResponse>(
            station_id, reply,
        )
        .map(|r| CommandReply::Status {
            status: wire_name(&r.status),
        }),
        "ClearChargingProfile" => {
            parsed::<m::clear_charging_profile::ClearChargingProfileResponse>(station_id, reply)
                .map(|r| CommandReply::Status {
                    status: wire_name(&r.status),
                })
        }
        "GetCompositeSchedule" => {
            parsed::<m::get_composite_schedule::GetCompositeScheduleResponse>(station_id, reply)
                .map(|r| CommandReply::CompositeSchedule {
                    status: wire_name(&r.status),
                    composite: r.charging_schedule.map(|s| CompositeSchedule {
                        evse_id: r.connector_id,
                        schedule_start: r.schedule_start,
                        schedule: from_schedule(s),
                    }),
                })
        }
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn profile(v: Value) -> ChargingProfile {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn a_tx_profile_becomes_cs_charging_profiles_with_the_1_6_names() {
        let p = profile(json!({"id": 7, "purpose": "TxProfile", "stack_level": 2,
            "kind": "Relative", "transaction_id": 12,
            "schedule": {"charging_rate_unit": "W", "duration": 3600, "min_charging_rate": 1.5,
                "periods": [{"start_period": 0, "limit": 11000, "number_phases": 3},
                            {"start_period": 600, "limit": 7400.5}]}}));
        let (action, payload) = set_charging_profile(1, &p).unwrap();
        assert_eq!(action, "SetChargingProfile");
        assert_eq!(
            payload,
            json!({"connectorId": 1, "csChargingProfiles": {"chargingProfileId": 7,
                "transactionId": 12, "stackLevel": 2, "chargingProfilePurpose": "TxProfile",
                "chargingProfileKind": "Relative", "chargingSchedule": {"duration": 3600,
                "chargingRateUnit": "W", "minChargingRate": 1.5, "chargingSchedulePeriod": [
                    {"startPeriod": 0, "limit": 11000, "numberPhases": 3},
                    {"startPeriod": 600, "limit": 7400.5}]}}})
        );
        let mut max = p.clone();
        max.purpose = ChargingProfilePurpose::ChargingStationMaxProfile;
        max.transaction_id = None;
        let (_, payload) = set_charging_profile(0, &max).unwrap();
        assert_eq!(
            payload["csChargingProfiles"]["chargingProfilePurpose"],
            "ChargePointMaxProfile"
        );
    }

    #[test]
    fn limits_finer_than_a_tenth_are_refused() {
        let p = profile(
            json!({"id": 1, "purpose": "TxDefaultProfile", "stack_level": 0,
            "kind": "Relative", "schedule": {"charging_rate_unit": "A",
                "periods": [{"start_period": 0, "limit": 6.25}]}}),
        );
        assert!(matches!(
            set_charging_profile(1, &p),
            Err(CommandError::Unsupported(_))
        ));
    }

    #[test]
    fn a_composite_schedule_comes_back_as_the_model() {
        let reply = decode_reply(
            "CP",
            "GetCompositeSchedule",
            json!({"status": "Accepted", "connectorId": 1, "scheduleStart": "2025-03-01T08:00:00Z",
                // A JSON-number minChargingRate: rust-ocpp reads optional decimals through
                // rust_decimal's arbitrary-precision helper, which fails on numbers when the
                // workspace enables rust_decimal's `serde-str` (it must not).
                "chargingSchedule": {"duration": 300, "chargingRateUnit": "A", "minChargingRate": 6.0,
                "chargingSchedulePeriod": [{"startPeriod": 0, "limit": 16.0}]}}),
        )
        .unwrap()
        .unwrap();
        let CommandReply::CompositeSchedule {
            status,
            composite: Some(c),
        } = reply
        else {
            panic!("{reply:?}")
        };
        assert_eq!(status, "Accepted");
        assert_eq!(c.evse_id, Some(1));
        assert_eq!(c.schedule.periods[0].limit, Decimal::from(16));
    }
}
