//! Smart charging in words that belong to no OCPP version: one charging-profile model that the
//! version adapters translate into 1.6 `csChargingProfiles` (OCPP 1.6 §3.13, §7.7) or 2.0.1
//! `ChargingProfileType` (OCPP 2.0.1 part 2 K01, 2.10), and the composite schedule a station
//! reports back (1.6 §5.7, 2.0.1 K08).

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

/// Most periods a schedule may hold (OCPP 2.0.1 ChargingScheduleType: `maxItems` 1024; 1.6 sets
/// no bound, so the stricter one applies to both).
pub const MAX_SCHEDULE_PERIODS: usize = 1024;

/// What a charging profile limits. The 2.0.1 names are used; the 1.6 name `ChargePointMaxProfile`
/// is accepted for the station-wide limit. 2.0.1 `ChargingStationExternalConstraints` is missing on
/// purpose: only the station sets it (OCPP 2.0.1 K01).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ChargingProfilePurpose {
    /// The limit of the whole station (1.6 `ChargePointMaxProfile`); only on EVSE 0.
    #[serde(alias = "ChargePointMaxProfile")]
    ChargingStationMaxProfile,
    /// The default for new transactions, on one EVSE or (EVSE 0) on all of them.
    TxDefaultProfile,
    /// The limit of one running transaction; only on an EVSE above 0.
    TxProfile,
}

impl ChargingProfilePurpose {
    /// The name stored and shown by the CPMS.
    pub fn as_str(self) -> &'static str {
        match self {
            ChargingProfilePurpose::ChargingStationMaxProfile => "ChargingStationMaxProfile",
            ChargingProfilePurpose::TxDefaultProfile => "TxDefaultProfile",
            ChargingProfilePurpose::TxProfile => "TxProfile",
        }
    }
}

/// How a schedule's start is determined.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ChargingProfileKind {
    /// The schedule starts at `start_schedule`.
    Absolute,
    /// The schedule repeats daily or weekly from `start_schedule`.
    Recurring,
    /// The schedule starts when the transaction (or energy offer) starts.
    Relative,
}

/// The period of a recurring profile.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum RecurrencyKind {
    /// Every 24 hours.
    Daily,
    /// Every 7 days.
    Weekly,
}

/// The unit of the limits of a schedule.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ChargingRateUnit {
    /// Amperes (per phase).
    A,
    /// Watts.
    W,
}

/// One period of a schedule: from `start_period` seconds after the schedule's start until the next
/// period's start, the rate may not exceed `limit`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChargingSchedulePeriod {
    /// Seconds from the start of the schedule.
    pub start_period: i32,
    /// The limit, in the schedule's unit. A JSON number on the wire of every OCPP version, so it
    /// is one in the API too.
    #[serde(with = "rust_decimal::serde::arbitrary_precision")]
    pub limit: Decimal,
    /// Number of phases that may be used (1 to 3); the station's default (3) when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub number_phases: Option<i32>,
}

/// A list of limits over time.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChargingSchedule {
    /// Length of the schedule in seconds; the last period lasts indefinitely when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration: Option<i32>,
    /// When an Absolute or Recurring schedule starts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_schedule: Option<DateTime<Utc>>,
    /// A or W.
    pub charging_rate_unit: ChargingRateUnit,
    /// The lowest rate the vehicle supports, in the schedule's unit.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "optional_number"
    )]
    pub min_charging_rate: Option<Decimal>,
    /// The periods, ordered by `start_period`, the first starting at 0.
    pub periods: Vec<ChargingSchedulePeriod>,
}

/// A charging profile as the operator sets it and the CPMS stores it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChargingProfile {
    /// The profile id, unique per station; a new profile with the same id replaces the old one.
    pub id: i32,
    /// What the profile limits.
    pub purpose: ChargingProfilePurpose,
    /// Precedence among profiles of the same purpose: the highest level wins.
    pub stack_level: i32,
    /// Absolute, Recurring or Relative.
    pub kind: ChargingProfileKind,
    /// Daily or Weekly; required for Recurring profiles, refused on the others.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recurrency: Option<RecurrencyKind>,
    /// From when the profile applies.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub valid_from: Option<DateTime<Utc>>,
    /// Until when the profile applies.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub valid_to: Option<DateTime<Utc>>,
    /// The CPMS transaction id a TxProfile is for (required for TxProfile, refused otherwise).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transaction_id: Option<i64>,
    /// The limits.
    pub schedule: ChargingSchedule,
}

impl ChargingProfile {
    /// Checks the rules of OCPP 1.6 §3.13 and 2.0.1 K01 that hold for every version, for a
    /// profile to be installed on `evse_id`; the error says which rule is broken.
    pub fn validate(&self, evse_id: i32) -> Result<(), String> {
        if evse_id < 0 {
            return Err("evse_id must be 0 or more".into());
        }
        if self.id <= 0 {
            return Err("profile id must be positive".into());
        }
        if self.stack_level < 0 {
            return Err("stack_level must be 0 or more".into());
        }
        match self.purpose {
            // 1.6 §3.13.1: ChargePointMaxProfile only at connectorId 0; 2.0.1 K01: likewise
            // ChargingStationMaxProfile only at evseId 0.
            ChargingProfilePurpose::ChargingStationMaxProfile if evse_id != 0 => {
                return Err("a ChargingStationMaxProfile is only allowed on evse_id 0".into())
            }
            // 1.6 §3.13.1 and 2.0.1 K01: a TxProfile belongs to a transaction on one EVSE.
            ChargingProfilePurpose::TxProfile if evse_id == 0 => {
                return Err("a TxProfile needs an evse_id above 0".into())
            }
            ChargingProfilePurpose::TxProfile if self.transaction_id.is_none() => {
                return Err("a TxProfile needs a transaction_id".into())
            }
            ChargingProfilePurpose::ChargingStationMaxProfile
            | ChargingProfilePurpose::TxDefaultProfile
                if self.transaction_id.is_some() =>
            {
                return Err("only a TxProfile may name a transaction_id".into())
            }
            _ => {}
        }
        match (self.kind, self.recurrency) {
            (ChargingProfileKind::Recurring, None) => {
                return Err("a Recurring profile needs a recurrency (Daily or Weekly)".into())
            }
            (ChargingProfileKind::Absolute | ChargingProfileKind::Relative, Some(_)) => {
                return Err("only a Recurring profile may have a recurrency".into())
            }
            _ => {}
        }
        // 2.0.1 K01 (chargingSchedule): Absolute and Recurring schedules have a start, Relative ones none.
        match (self.kind, self.schedule.start_schedule) {
            (ChargingProfileKind::Relative, Some(_)) => {
                return Err("a Relative profile must not have a start_schedule".into())
            }
            (ChargingProfileKind::Absolute | ChargingProfileKind::Recurring, None) => {
                return Err("an Absolute or Recurring profile needs a start_schedule".into())
            }
            _ => {}
        }
        if let (Some(from), Some(to)) = (self.valid_from, self.valid_to) {
            if from >= to {
                return Err("valid_from must be before valid_to".into());
            }
        }
        self.schedule.validate()
    }
}

impl ChargingSchedule {
    /// Checks the periods, duration and rates of a schedule.
    pub fn validate(&self) -> Result<(), String> {
        if self.duration.is_some_and(|d| d <= 0) {
            return Err("schedule duration must be positive".into());
        }
        if self.min_charging_rate.is_some_and(|r| r.is_sign_negative()) {
            return Err("min_charging_rate must be 0 or more".into());
        }
        let Some(first) = self.periods.first() else {
            return Err("a schedule needs at least one period".into());
        };
        if self.periods.len() > MAX_SCHEDULE_PERIODS {
            return Err(format!(
                "a schedule has at most {MAX_SCHEDULE_PERIODS} periods"
            ));
        }
        // 1.6 §7.13 / 2.0.1 2.12: the first period starts the schedule, at 0.
        if first.start_period != 0 {
            return Err("the first period must have start_period 0".into());
        }
        if self
            .periods
            .windows(2)
            .any(|w| w[1].start_period <= w[0].start_period)
        {
            return Err("periods must be sorted by strictly increasing start_period".into());
        }
        for period in &self.periods {
            if period.limit.is_sign_negative() && !period.limit.is_zero() {
                return Err("a period limit must be 0 or more".into());
            }
            if period.number_phases.is_some_and(|n| !(1..=3).contains(&n)) {
                return Err("number_phases must be 1, 2 or 3".into());
            }
        }
        Ok(())
    }
}

/// An optional decimal as a JSON number. rust_decimal's own `arbitrary_precision_option` reads
/// only strings once the workspace enables its `serde-str` feature, so the present value is read
/// through the (number-reading) `arbitrary_precision` module instead.
mod optional_number {
    use rust_decimal::Decimal;
    use serde::{Deserialize, Deserializer, Serializer};

    #[derive(Deserialize)]
    struct Number(#[serde(with = "rust_decimal::serde::arbitrary_precision")] Decimal);

    pub fn serialize<S: Serializer>(value: &Option<Decimal>, s: S) -> Result<S::Ok, S::Error> {
        rust_decimal::serde::arbitrary_precision_option::serialize(value, s)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Decimal>, D::Error> {
        Ok(Option::<Number>::deserialize(d)?.map(|n| n.0))
    }
}

/// Which profiles a ClearChargingProfile removes: the one with `id`, or every profile matching
/// all the criteria given (all profiles when none is given). OCPP 1.6 §5.5, 2.0.1 K10.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChargingProfileCriteria {
    /// The profile id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<i32>,
    /// The EVSE (0: the station-wide profiles).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub evse_id: Option<i32>,
    /// The purpose.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub purpose: Option<ChargingProfilePurpose>,
    /// The stack level.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stack_level: Option<i32>,
}

/// The limits a station plans for one EVSE over a time window (its composite schedule).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CompositeSchedule {
    /// The EVSE the schedule is for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub evse_id: Option<i32>,
    /// When the schedule starts (1.6 scheduleStart, 2.0.1 schedule.scheduleStart).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schedule_start: Option<DateTime<Utc>>,
    /// The schedule, in the model of [`ChargingSchedule`].
    pub schedule: ChargingSchedule,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn profile(value: serde_json::Value) -> ChargingProfile {
        serde_json::from_value(value).unwrap()
    }

    fn base() -> serde_json::Value {
        json!({"id": 1, "purpose": "TxDefaultProfile", "stack_level": 0, "kind": "Absolute",
               "schedule": {"start_schedule": "2025-03-01T08:00:00Z", "charging_rate_unit": "A",
                            "periods": [{"start_period": 0, "limit": 16}]}})
    }

    #[test]
    fn limits_are_json_numbers_and_the_1_6_purpose_name_is_accepted() {
        let mut v = base();
        v["purpose"] = json!("ChargePointMaxProfile");
        v["schedule"]["periods"][0]["limit"] = json!(10.5);
        let p = profile(v);
        assert_eq!(p.purpose, ChargingProfilePurpose::ChargingStationMaxProfile);
        assert_eq!(p.schedule.periods[0].limit, Decimal::new(105, 1));
        let back = serde_json::to_value(&p).unwrap();
        assert_eq!(back["schedule"]["periods"][0]["limit"], json!(10.5));
        assert_eq!(back["purpose"], "ChargingStationMaxProfile");
    }

    #[test]
    fn each_rule_is_checked() {
        assert_eq!(profile(base()).validate(1), Ok(()));
        let broken = |path: &[&str], value: serde_json::Value, evse: i32| {
            let mut v = base();
            let mut target = &mut v;
            for key in &path[..path.len() - 1] {
                target = &mut target[*key];
            }
            target[path[path.len() - 1]] = value;
            profile(v).validate(evse).unwrap_err()
        };
        assert!(broken(&["stack_level"], json!(-1), 1).contains("stack_level"));
        assert!(broken(&["kind"], json!("Recurring"), 1).contains("recurrency"));
        assert!(broken(&["purpose"], json!("TxProfile"), 1).contains("transaction_id"));
        assert!(broken(&["purpose"], json!("ChargingStationMaxProfile"), 1).contains("evse_id 0"));
        assert!(broken(&["schedule", "periods"], json!([]), 1).contains("at least one"));
        assert!(broken(
            &["schedule", "periods"],
            json!([{"start_period": 5, "limit": 1}]),
            1
        )
        .contains("start_period 0"));
        assert!(broken(
            &["schedule", "periods"],
            json!([{"start_period": 0, "limit": 1}, {"start_period": 0, "limit": 2}]),
            1
        )
        .contains("sorted"));
        assert!(broken(
            &["schedule", "periods"],
            json!([{"start_period": 0, "limit": -1}]),
            1
        )
        .contains("limit"));
        let mut tx = base();
        tx["purpose"] = json!("TxProfile");
        tx["transaction_id"] = json!(3);
        assert!(profile(tx).validate(0).unwrap_err().contains("above 0"));
    }
}
