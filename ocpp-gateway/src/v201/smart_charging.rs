//! Smart charging on 2.0.1 stations (OCPP 2.0.1 part 2 K01 SetChargingProfile, K08
//! GetCompositeSchedule, K10 ClearChargingProfile): the version-neutral charging-profile model
//! becomes rust-ocpp's 2.0.1 types, and a composite schedule comes back as the model.
//!
//! rust-ocpp's types serialise to what the 2.0.1 schemas want, but check less than they say:
//! `ChargingProfileType.chargingSchedule` lacks its `minItems: 1, maxItems: 3`,
//! `ChargingScheduleType.chargingSchedulePeriod` its `maxItems: 1024` and
//! `CompositeScheduleType.chargingSchedulePeriod` its `minItems: 1`. We always send exactly one
//! schedule, the model caps periods at [`crate::port::MAX_SCHEDULE_PERIODS`], and a composite
//! schedule without periods is refused here as an invalid reply.

use rust_ocpp::v2_0_1::datatypes::charging_profile_type::ChargingProfileType;
use rust_ocpp::v2_0_1::datatypes::charging_schedule_period_type::ChargingSchedulePeriodType;
use rust_ocpp::v2_0_1::datatypes::charging_schedule_type::ChargingScheduleType;
use rust_ocpp::v2_0_1::datatypes::clear_charging_profile_type::ClearChargingProfileType;
use rust_ocpp::v2_0_1::enumerations::charging_profile_kind_enum_type::ChargingProfileKindEnumType;
use rust_ocpp::v2_0_1::enumerations::charging_profile_purpose_enum_type::ChargingProfilePurposeEnumType;
use rust_ocpp::v2_0_1::enumerations::charging_rate_unit_enum_type::ChargingRateUnitEnumType;
use rust_ocpp::v2_0_1::enumerations::recurrency_kind_enum_type::RecurrencyKindEnumType;
use rust_ocpp::v2_0_1::messages as m;
use serde_json::Value;

use super::{decode, wire_name, Pdu};
use crate::port::{
    ChargingProfile, ChargingProfileCriteria, ChargingProfileKind, ChargingProfilePurpose,
    ChargingRateUnit, ChargingSchedule, ChargingSchedulePeriod, CommandError, CommandReply,
    CompositeSchedule, RecurrencyKind, MAX_SCHEDULE_PERIODS,
};

impl Pdu for m::set_charging_profile::SetChargingProfileResponse {}
impl Pdu for m::clear_charging_profile::ClearChargingProfileResponse {}

impl Pdu for m::get_composite_schedule::GetCompositeScheduleResponse {
    fn check(&self) -> Result<(), String> {
        // GetCompositeScheduleResponse.json: CompositeScheduleType.chargingSchedulePeriod has
        // minItems 1, which rust-ocpp does not check.
        match &self.schedule {
            Some(s) if s.charging_schedule_period.is_empty() => {
                Err("schedule.chargingSchedulePeriod must not be empty".into())
            }
            _ => Ok(()),
        }
    }
}

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

fn purpose(p: ChargingProfilePurpose) -> ChargingProfilePurposeEnumType {
    match p {
        ChargingProfilePurpose::ChargingStationMaxProfile => {
            ChargingProfilePurposeEnumType::ChargingStationMaxProfile
        }
        ChargingProfilePurpose::TxDefaultProfile => {
            ChargingProfilePurposeEnumType::TxDefaultProfile
        }
        ChargingProfilePurpose::TxProfile => ChargingProfilePurposeEnumType::TxProfile,
    }
}

fn unit(u: ChargingRateUnit) -> ChargingRateUnitEnumType {
    match u {
        ChargingRateUnit::A => ChargingRateUnitEnumType::A,
        ChargingRateUnit::W => ChargingRateUnitEnumType::W,
    }
}

/// SetChargingProfile for `profile` on `evse_id`. A TxProfile names the transaction by the
/// station's own id (2.0.1 transactionId, a string of at most 36 characters), which the core
/// looked up.
pub(crate) fn set_charging_profile(
    evse_id: i32,
    profile: &ChargingProfile,
    station_transaction_id: Option<&str>,
) -> Result<(&'static str, Value), CommandError> {
    let transaction_id = match (profile.transaction_id, station_transaction_id) {
        (None, _) => None,
        (Some(_), Some(id)) if id.chars().count() <= 36 => Some(id.to_owned()),
        (Some(id), _) => {
            return Err(unsupported(format!(
                "transaction {id} has no OCPP 2.0.1 transaction id"
            )))
        }
    };
    if profile.schedule.periods.len() > MAX_SCHEDULE_PERIODS {
        return Err(unsupported("too many schedule periods for OCPP 2.0.1"));
    }
    let s = &profile.schedule;
    to_value(
        "SetChargingProfile",
        m::set_charging_profile::SetChargingProfileRequest {
            evse_id,
            charging_profile: ChargingProfileType {
                id: profile.id,
                stack_level: profile.stack_level,
                charging_profile_purpose: purpose(profile.purpose),
                charging_profile_kind: match profile.kind {
                    ChargingProfileKind::Absolute => ChargingProfileKindEnumType::Absolute,
                    ChargingProfileKind::Recurring => ChargingProfileKindEnumType::Recurring,
                    ChargingProfileKind::Relative => ChargingProfileKindEnumType::Relative,
                },
                recurrency_kind: profile.recurrency.map(|r| match r {
                    RecurrencyKind::Daily => RecurrencyKindEnumType::Daily,
                    RecurrencyKind::Weekly => RecurrencyKindEnumType::Weekly,
                }),
                valid_from: profile.valid_from,
                valid_to: profile.valid_to,
                transaction_id,
                // One schedule per profile; its id (required by the schema) is the profile's, as
                // the model has one schedule per profile.
                charging_schedule: vec![ChargingScheduleType {
                    id: profile.id,
                    start_schedule: s.start_schedule,
                    duration: s.duration,
                    charging_rate_unit: unit(s.charging_rate_unit),
                    min_charging_rate: s.min_charging_rate,
                    charging_schedule_period: s
                        .periods
                        .iter()
                        .map(|p| ChargingSchedulePeriodType {
                            start_period: p.start_period,
                            limit: p.limit,
                            number_phases: p.number_phases,
                            phase_to_use: None,
                        })
                        .collect(),
                    sales_tariff: None,
                }],
            },
        },
    )
}

/// ClearChargingProfile: by id, or by the criteria given (2.0.1 K10; all profiles when none).
pub(crate) fn clear_charging_profile(
    criteria: &ChargingProfileCriteria,
) -> Result<(&'static str, Value), CommandError> {
    let by_criteria =
        criteria.evse_id.is_some() || criteria.purpose.is_some() || criteria.stack_level.is_some();
    to_value(
        "ClearChargingProfile",
        m::clear_charging_profile::ClearChargingProfileRequest {
            charging_profile_id: criteria.id,
            charging_profile_criteria: by_criteria.then(|| ClearChargingProfileType {
                evse_id: criteria.evse_id,
                charging_profile_purpose: criteria.purpose.map(purpose),
                stack_level: criteria.stack_level,
            }),
        },
    )
}

/// GetCompositeSchedule for `evse_id` (0: the station's total).
pub(crate) fn get_composite_schedule(
    evse_id: i32,
    duration: i32,
    charging_rate_unit: Option<ChargingRateUnit>,
) -> Result<(&'static str, Value), CommandError> {
    to_value(
        "GetCompositeSchedule",
        m::get_composite_schedule::GetCompositeScheduleRequest {
            duration,
            charging_rate_unit: charging_rate_unit.map(unit),
            evse_id,
        },
    )
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
                    composite: r.schedule.map(|s| CompositeSchedule {
                        evse_id: Some(s.evse_id),
                        schedule_start: Some(s.schedule_start),
                        schedule: ChargingSchedule {
                            duration: Some(s.duration),
                            // The composite schedule's start is `schedule_start`; as in 1.6, the
                            // schedule itself carries it too.
                            start_schedule: Some(s.schedule_start),
                            charging_rate_unit: match s.charging_rate_unit {
                                ChargingRateUnitEnumType::A => ChargingRateUnit::A,
                                ChargingRateUnitEnumType::W => ChargingRateUnit::W,
                            },
                            min_charging_rate: None,
                            periods: s
                                .charging_schedule_period
                                .into_iter()
                                .map(|p| ChargingSchedulePeriod {
                                    start_period: p.start_period,
                                    limit: p.limit,
                                    number_phases: p.number_phases,
                                })
                                .collect(),
                        },
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

    #[test]
    fn a_tx_profile_carries_the_station_transaction_id_and_a_schedule_array() {
        let p: ChargingProfile = serde_json::from_value(json!({"id": 3, "purpose": "TxProfile",
            "stack_level": 1, "kind": "Absolute", "transaction_id": 9,
            "schedule": {"start_schedule": "2025-03-01T08:00:00Z", "charging_rate_unit": "A",
                "periods": [{"start_period": 0, "limit": 16}]}}))
        .unwrap();
        let (action, payload) = set_charging_profile(1, &p, Some("TX-9")).unwrap();
        assert_eq!(action, "SetChargingProfile");
        assert_eq!(
            payload,
            json!({"evseId": 1, "chargingProfile": {"id": 3, "stackLevel": 1,
                "chargingProfilePurpose": "TxProfile", "chargingProfileKind": "Absolute",
                "transactionId": "TX-9", "chargingSchedule": [{"id": 3,
                    "startSchedule": "2025-03-01T08:00:00.000Z", "chargingRateUnit": "A",
                    "chargingSchedulePeriod": [{"startPeriod": 0, "limit": 16}]}]}})
        );
        assert!(matches!(
            set_charging_profile(1, &p, None),
            Err(CommandError::Unsupported(_))
        ));
    }

    #[test]
    fn clear_by_id_sends_no_criteria() {
        let (_, by_id) = clear_charging_profile(&ChargingProfileCriteria {
            id: Some(4),
            ..Default::default()
        })
        .unwrap();
        assert_eq!(by_id, json!({"chargingProfileId": 4}));
        let (_, by_criteria) = clear_charging_profile(&ChargingProfileCriteria {
            evse_id: Some(0),
            purpose: Some(ChargingProfilePurpose::ChargingStationMaxProfile),
            ..Default::default()
        })
        .unwrap();
        assert_eq!(
            by_criteria,
            json!({"chargingProfileCriteria": {"evseId": 0,
                "chargingProfilePurpose": "ChargingStationMaxProfile"}})
        );
    }

    #[test]
    fn an_empty_composite_schedule_is_an_invalid_reply() {
        let reply = decode_reply(
            "CP",
            "GetCompositeSchedule",
            json!({"status": "Accepted", "schedule": {"evseId": 1, "duration": 60,
                "scheduleStart": "2025-03-01T08:00:00Z", "chargingRateUnit": "W",
                "chargingSchedulePeriod": []}}),
        )
        .unwrap();
        assert!(matches!(reply, Err(CommandError::InvalidReply(_))));
    }
}
