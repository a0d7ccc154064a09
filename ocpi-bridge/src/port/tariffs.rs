//! Tariffs as the core keeps them and the bridge publishes them (OCPI 2.2.1 Tariffs module,
//! Object description). The operator API speaks this same model, so the vocabulary follows the
//! spec's field and enum names; money and quantities are exact [`Decimal`]s that travel as JSON
//! numbers, times of day and dates are parsed, not strings.
//!
//! The core validates a [`TariffTerms`] before storing it (see `cpms/src/core/tariffs.rs`) and
//! implements [`TariffSource`]; the Tariffs module reads through it, and a push can render one
//! tariff from current state with [`TariffSource::tariff`].

use async_trait::async_trait;
use chrono::{DateTime, NaiveDate, NaiveTime, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use super::StoreError;

/// TariffType enum: which sessions a tariff is for (OCPI 2.2.1 Tariffs: TariffType enum).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum TariffType {
    /// Ad-hoc payment at the charge point.
    AdHocPayment,
    /// Charging preference CHEAP.
    ProfileCheap,
    /// Charging preference FAST.
    ProfileFast,
    /// Charging preference GREEN.
    ProfileGreen,
    /// RFID without preference, or preference REGULAR.
    Regular,
}

impl TariffType {
    /// The spec's name, as stored.
    pub fn as_str(self) -> &'static str {
        match self {
            TariffType::AdHocPayment => "AD_HOC_PAYMENT",
            TariffType::ProfileCheap => "PROFILE_CHEAP",
            TariffType::ProfileFast => "PROFILE_FAST",
            TariffType::ProfileGreen => "PROFILE_GREEN",
            TariffType::Regular => "REGULAR",
        }
    }
}

/// TariffDimensionType enum: what a price component charges for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum TariffDimensionType {
    /// Per kWh; `step_size` in Wh.
    Energy,
    /// A fixed fee.
    Flat,
    /// Per hour not charging; `step_size` in seconds.
    ParkingTime,
    /// Per hour charging (or reserved); `step_size` in seconds.
    Time,
}

/// DayOfWeek enum.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
#[allow(missing_docs)]
pub enum DayOfWeek {
    Monday,
    Tuesday,
    Wednesday,
    Thursday,
    Friday,
    Saturday,
    Sunday,
}

/// ReservationRestrictionType enum: the element prices a reservation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ReservationRestrictionType {
    /// Costs of a reservation.
    Reservation,
    /// Costs of a reservation that expires unused.
    ReservationExpires,
}

/// DisplayText class (OCPI 2.2.1 Types).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DisplayText {
    /// ISO 639-1 language code.
    pub language: String,
    /// The text, at most 512 characters, no markup.
    pub text: String,
}

/// Price class (OCPI 2.2.1 Types).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Price {
    /// Excluding VAT.
    #[serde(with = "decimal_number")]
    pub excl_vat: Decimal,
    /// Including VAT, when given.
    #[serde(
        default,
        with = "opt_decimal_number",
        skip_serializing_if = "Option::is_none"
    )]
    pub incl_vat: Option<Decimal>,
}

/// PriceComponent class.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PriceComponent {
    /// The dimension charged.
    #[serde(rename = "type")]
    pub dimension: TariffDimensionType,
    /// Price per unit, excluding VAT.
    #[serde(with = "decimal_number")]
    pub price: Decimal,
    /// VAT percentage; absent means no VAT applies (not 0 %).
    #[serde(
        default,
        with = "opt_decimal_number",
        skip_serializing_if = "Option::is_none"
    )]
    pub vat: Option<Decimal>,
    /// Billing block in the dimension's step unit.
    #[serde(deserialize_with = "whole_number")]
    pub step_size: u32,
}

/// TariffRestrictions class: when an element applies (all set restrictions together).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TariffRestrictions {
    /// Local time of day from which the element applies (`HH:MM`).
    #[serde(default, with = "opt_time", skip_serializing_if = "Option::is_none")]
    pub start_time: Option<NaiveTime>,
    /// Local time of day until which it applies (`HH:MM`); before `start_time` wraps midnight.
    #[serde(default, with = "opt_time", skip_serializing_if = "Option::is_none")]
    pub end_time: Option<NaiveTime>,
    /// Local date from which it applies, inclusive (`YYYY-MM-DD`).
    #[serde(default, with = "opt_date", skip_serializing_if = "Option::is_none")]
    pub start_date: Option<NaiveDate>,
    /// Local date until which it applies, exclusive (`YYYY-MM-DD`).
    #[serde(default, with = "opt_date", skip_serializing_if = "Option::is_none")]
    pub end_date: Option<NaiveDate>,
    /// Consumed energy (kWh) from which it applies, inclusive.
    #[serde(
        default,
        with = "opt_decimal_number",
        skip_serializing_if = "Option::is_none"
    )]
    pub min_kwh: Option<Decimal>,
    /// Consumed energy (kWh) until which it applies, exclusive.
    #[serde(
        default,
        with = "opt_decimal_number",
        skip_serializing_if = "Option::is_none"
    )]
    pub max_kwh: Option<Decimal>,
    /// Current (A, sum over phases) at or above which it applies.
    #[serde(
        default,
        with = "opt_decimal_number",
        skip_serializing_if = "Option::is_none"
    )]
    pub min_current: Option<Decimal>,
    /// Current (A) below which it applies.
    #[serde(
        default,
        with = "opt_decimal_number",
        skip_serializing_if = "Option::is_none"
    )]
    pub max_current: Option<Decimal>,
    /// Power (kW) at or above which it applies.
    #[serde(
        default,
        with = "opt_decimal_number",
        skip_serializing_if = "Option::is_none"
    )]
    pub min_power: Option<Decimal>,
    /// Power (kW) below which it applies.
    #[serde(
        default,
        with = "opt_decimal_number",
        skip_serializing_if = "Option::is_none"
    )]
    pub max_power: Option<Decimal>,
    /// Session duration (s) from which it applies, inclusive.
    #[serde(
        default,
        deserialize_with = "opt_whole_number",
        skip_serializing_if = "Option::is_none"
    )]
    pub min_duration: Option<u32>,
    /// Session duration (s) until which it applies, exclusive.
    #[serde(
        default,
        deserialize_with = "opt_whole_number",
        skip_serializing_if = "Option::is_none"
    )]
    pub max_duration: Option<u32>,
    /// Days of the week on which it applies; empty means every day.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub day_of_week: Vec<DayOfWeek>,
    /// Set when the element prices a reservation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reservation: Option<ReservationRestrictionType>,
}

/// TariffElement class.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TariffElement {
    /// At least one price component.
    pub price_components: Vec<PriceComponent>,
    /// When the element applies; absent means always.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub restrictions: Option<TariffRestrictions>,
}

/// EnergySourceCategory enum (OCPI 2.2.1 Locations).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
#[allow(missing_docs)]
pub enum EnergySourceCategory {
    Nuclear,
    GeneralFossil,
    Coal,
    Gas,
    GeneralGreen,
    Solar,
    Wind,
    Water,
}

/// EnergySource class: one source's share.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EnergySource {
    /// The source.
    pub source: EnergySourceCategory,
    /// Its share, 0 to 100.
    #[serde(with = "decimal_number")]
    pub percentage: Decimal,
}

/// EnvironmentalImpactCategory enum (OCPI 2.2.1 Locations).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
#[allow(missing_docs)]
pub enum EnvironmentalImpactCategory {
    NuclearWaste,
    CarbonDioxide,
}

/// EnvironmentalImpact class: grams per kWh of one category.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EnvironmentalImpact {
    /// The category.
    pub category: EnvironmentalImpactCategory,
    /// g/kWh.
    #[serde(with = "decimal_number")]
    pub amount: Decimal,
}

/// EnergyMix class (OCPI 2.2.1 Locations).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EnergyMix {
    /// 100 % regenerative.
    pub is_green_energy: bool,
    /// Shares of sources.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub energy_sources: Vec<EnergySource>,
    /// Waste and CO2 per kWh.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub environ_impact: Vec<EnvironmentalImpact>,
    /// Supplier name, at most 64 characters.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub supplier_name: Option<String>,
    /// Product name, at most 64 characters.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub energy_product_name: Option<String>,
}

/// Everything a tariff says, apart from its id and `last_updated` (and the owner's country code
/// and party id, which are the platform's): what the operator writes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TariffTerms {
    /// ISO 4217 currency code.
    pub currency: String,
    /// Which sessions it is for; absent means all.
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub tariff_type: Option<TariffType>,
    /// Alternative texts, one per language.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tariff_alt_text: Vec<DisplayText>,
    /// A page explaining the tariff.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tariff_alt_url: Option<String>,
    /// A session costs at least this.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_price: Option<Price>,
    /// A session costs at most this.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_price: Option<Price>,
    /// At least one element; the first matching one per dimension applies.
    pub elements: Vec<TariffElement>,
    /// The energy supplied under it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub energy_mix: Option<EnergyMix>,
    /// When it becomes active (UTC).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_date_time: Option<DateTime<Utc>>,
    /// When it stops being valid (UTC).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end_date_time: Option<DateTime<Utc>>,
}

/// A stored tariff.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tariff {
    /// CiString(36), unique on our platform.
    pub id: String,
    /// What it says.
    pub terms: TariffTerms,
    /// When it was created or last changed (whole seconds, UTC).
    pub last_updated: DateTime<Utc>,
}

/// Where the Tariffs module reads tariffs. Implemented by the core.
#[async_trait]
pub trait TariffSource: Send + Sync + 'static {
    /// Every tariff, in `last_updated` order, then by id.
    async fn tariffs(&self) -> Result<Vec<Tariff>, StoreError>;

    /// One tariff by id, as it stands now (for a push of its current state).
    async fn tariff(&self, id: &str) -> Result<Option<Tariff>, StoreError>;
}

/// A [`Decimal`] as a JSON number, exactly: `0.25` stays `0.25`. serde_json's
/// `arbitrary_precision` (on in this workspace) keeps the digits; without it a number is parsed
/// through `f64`, whose shortest form round-trips the usual 4-decimal prices.
pub mod decimal_number {
    use std::str::FromStr;

    use rust_decimal::Decimal;
    use serde::{de, Deserialize, Deserializer, Serializer};

    /// Writes the decimal's digits as a number.
    pub fn serialize<S: Serializer>(value: &Decimal, s: S) -> Result<S::Ok, S::Error> {
        let n =
            serde_json::Number::from_str(&value.to_string()).map_err(serde::ser::Error::custom)?;
        serde::Serialize::serialize(&n, s)
    }

    /// Reads a JSON number (not a string) into a decimal, without going through `f64`.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Decimal, D::Error> {
        let n = serde_json::Number::deserialize(d)?;
        parse(&n.to_string())
            .ok_or_else(|| de::Error::custom(format!("{n} is not a decimal number")))
    }

    /// A decimal from a JSON number's text (plain or scientific).
    pub fn parse(text: &str) -> Option<Decimal> {
        Decimal::from_str_exact(text)
            .or_else(|_| Decimal::from_scientific(text))
            .ok()
    }
}

/// [`decimal_number`] for optional fields.
pub mod opt_decimal_number {
    use rust_decimal::Decimal;
    use serde::{Deserialize, Deserializer, Serializer};

    /// Writes the decimal as a number (skip `None` with `skip_serializing_if`).
    pub fn serialize<S: Serializer>(value: &Option<Decimal>, s: S) -> Result<S::Ok, S::Error> {
        match value {
            Some(v) => super::decimal_number::serialize(v, s),
            None => s.serialize_none(),
        }
    }

    /// Reads a number or `null`.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Decimal>, D::Error> {
        #[derive(Deserialize)]
        struct Wrapped(#[serde(with = "super::decimal_number")] Decimal);
        Ok(Option::<Wrapped>::deserialize(d)?.map(|Wrapped(v)| v))
    }
}

/// An OCPI `int` that cannot be negative, with a message that says so (serde_json's
/// `arbitrary_precision` would only say "invalid number").
fn whole_number<'de, D: serde::Deserializer<'de>>(d: D) -> Result<u32, D::Error> {
    let n = serde_json::Number::deserialize(d)?;
    n.to_string().parse::<u32>().map_err(|_| {
        serde::de::Error::custom(format!("{n} is not a whole number from 0 to {}", u32::MAX))
    })
}

/// [`whole_number`] for optional fields.
fn opt_whole_number<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<u32>, D::Error> {
    #[derive(Deserialize)]
    struct Wrapped(#[serde(deserialize_with = "whole_number")] u32);
    Ok(Option::<Wrapped>::deserialize(d)?.map(|Wrapped(v)| v))
}

/// A time of day as `HH:MM`, 24 h, leading zeros (TariffRestrictions: `start_time`).
mod opt_time {
    use chrono::NaiveTime;
    use serde::{de, Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(value: &Option<NaiveTime>, s: S) -> Result<S::Ok, S::Error> {
        match value {
            Some(t) => s.serialize_str(&t.format("%H:%M").to_string()),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<NaiveTime>, D::Error> {
        let Some(text) = Option::<String>::deserialize(d)? else {
            return Ok(None);
        };
        let b = text.as_bytes();
        let digits = |r: std::ops::Range<usize>| b[r].iter().all(u8::is_ascii_digit);
        let parsed = (b.len() == 5 && b[2] == b':' && digits(0..2) && digits(3..5))
            .then(|| NaiveTime::parse_from_str(&text, "%H:%M").ok())
            .flatten();
        parsed.map(Some).ok_or_else(|| {
            de::Error::custom(format!("`{text}` is not a time HH:MM (00:00 to 23:59)"))
        })
    }
}

/// A date as `YYYY-MM-DD` (TariffRestrictions: `start_date`).
mod opt_date {
    use chrono::NaiveDate;
    use serde::{de, Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(value: &Option<NaiveDate>, s: S) -> Result<S::Ok, S::Error> {
        match value {
            Some(t) => s.serialize_str(&t.format("%Y-%m-%d").to_string()),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<NaiveDate>, D::Error> {
        let Some(text) = Option::<String>::deserialize(d)? else {
            return Ok(None);
        };
        let b = text.as_bytes();
        let digits = |r: std::ops::Range<usize>| b[r].iter().all(u8::is_ascii_digit);
        let parsed = (b.len() == 10
            && b[4] == b'-'
            && b[7] == b'-'
            && digits(0..4)
            && digits(5..7)
            && digits(8..10))
        .then(|| NaiveDate::parse_from_str(&text, "%Y-%m-%d").ok())
        .flatten();
        parsed
            .map(Some)
            .ok_or_else(|| de::Error::custom(format!("`{text}` is not a date YYYY-MM-DD")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn prices_travel_as_exact_json_numbers() {
        let text = r#"{"type":"ENERGY","price":0.25,"vat":10.0,"step_size":1}"#;
        let c: PriceComponent = serde_json::from_str(text).unwrap();
        assert_eq!(c.price, Decimal::new(25, 2));
        assert_eq!(serde_json::to_string(&c).unwrap(), text);
        let v = serde_json::to_value(&c).unwrap();
        assert_eq!(v["price"].to_string(), "0.25");
        assert!(v["price"].is_number());
    }

    #[test]
    fn a_price_given_as_a_string_is_refused() {
        let r: Result<Price, _> = serde_json::from_value(json!({"excl_vat": "0.25"}));
        assert!(r.is_err());
    }

    #[test]
    fn times_and_dates_follow_the_spec_syntax() {
        let ok: TariffRestrictions =
            serde_json::from_value(json!({"start_time": "09:00", "end_date": "2015-12-27"}))
                .unwrap();
        assert_eq!(
            serde_json::to_value(&ok).unwrap(),
            json!({"start_time": "09:00", "end_date": "2015-12-27"})
        );
        for bad in [
            json!({"start_time": "9:00"}),
            json!({"start_time": "24:00"}),
            json!({"end_time": "12:60"}),
            json!({"start_date": "2015-2-01"}),
            json!({"start_date": "2015-02-30"}),
        ] {
            assert!(
                serde_json::from_value::<TariffRestrictions>(bad.clone()).is_err(),
                "{bad}"
            );
        }
    }
}
