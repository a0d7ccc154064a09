//! What the Locations module needs from the core: the operator's sites, which station EVSEs
//! belong to each, and the live facts of those stations (normalised status, the status as sent,
//! when it was stored, whether the station is connected and since when). The core implements
//! [`LocationSource`]; the bridge renders the OCPI objects (`modules/locations.rs`) from these
//! facts, so a GET and a later push render the same object from the same state.
//!
//! The descriptive types ([`Site`], [`EvseSpec`], [`ConnectorSpec`]) carry the spec's
//! vocabulary as validated strings; [`Site::validate`] and [`EvseSpec::validate`] hold the
//! OCPI 2.2.1 rules so the operator API refuses what the module could not send.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::StoreError;

/// A point in decimal degrees, as the spec's strings (Locations: GeoLocation class).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GeoLocation {
    /// `-?[0-9]{1,2}\.[0-9]{5,7}`.
    pub latitude: String,
    /// `-?[0-9]{1,3}\.[0-9]{5,7}`.
    pub longitude: String,
}

/// A business as the spec describes it (Types: BusinessDetails class; logo not supported).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Business {
    /// Name, at most 100 characters.
    pub name: String,
    /// Website.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub website: Option<String>,
}

/// A weekly opening period (Locations: RegularHours class).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RegularHours {
    /// 1 (Monday) to 7 (Sunday).
    pub weekday: u8,
    /// `HH:MM`, local time.
    pub period_begin: String,
    /// `HH:MM`, local time.
    pub period_end: String,
}

/// A one-off period (Locations: ExceptionalPeriod class).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExceptionalPeriod {
    /// Begin, UTC.
    pub period_begin: DateTime<Utc>,
    /// End, UTC.
    pub period_end: DateTime<Utc>,
}

/// Opening times (Locations: Hours class).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Hours {
    /// Open around the clock; then `regular_hours` must be empty.
    pub twentyfourseven: bool,
    /// Weekly periods.
    #[serde(default)]
    pub regular_hours: Vec<RegularHours>,
    /// Extra openings.
    #[serde(default)]
    pub exceptional_openings: Vec<ExceptionalPeriod>,
    /// Closures.
    #[serde(default)]
    pub exceptional_closings: Vec<ExceptionalPeriod>,
}

/// A site as the operator describes it: everything of an OCPI Location but its ids, EVSEs and
/// timestamps.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Site {
    /// Display name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Street and number, at most 45 characters.
    pub address: String,
    /// City, at most 45 characters.
    pub city: String,
    /// Postal code, at most 10 characters.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub postal_code: Option<String>,
    /// ISO 3166-1 alpha-3.
    pub country: String,
    /// Where it is.
    pub coordinates: GeoLocation,
    /// IANA time zone, e.g. `Europe/Oslo`.
    pub time_zone: String,
    /// The operator.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub operator: Option<Business>,
    /// The owner.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner: Option<Business>,
    /// Opening times; absent means always open.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub opening_times: Option<Hours>,
    /// Facility enum values.
    #[serde(default)]
    pub facilities: Vec<String>,
    /// ParkingType enum value.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parking_type: Option<String>,
    /// May be shown to the public (Locations: publish).
    #[serde(default = "yes")]
    pub publish: bool,
}

fn yes() -> bool {
    true
}

/// A connector as the operator describes it (Locations: Connector object).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConnectorSpec {
    /// Connector id within the EVSE (the station's connector number, as a string).
    pub id: String,
    /// ConnectorType enum value.
    pub standard: String,
    /// `SOCKET` or `CABLE`.
    pub format: String,
    /// PowerType enum value.
    pub power_type: String,
    /// Volts.
    pub max_voltage: i32,
    /// Amperes.
    pub max_amperage: i32,
    /// Watts, when lower than voltage times amperage.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_electric_power: Option<i32>,
    /// Tariffs.
    #[serde(default)]
    pub tariff_ids: Vec<String>,
}

/// An OCPI EVSE as the operator describes it: the station EVSE it is, and its description.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EvseSpec {
    /// The station.
    pub station_id: String,
    /// The station's EVSE number (1.6: the connectorId; never 0).
    pub evse_id: i32,
    /// The eMI3 EVSE id, e.g. `NL*ABC*E12345`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub evse_id_emi3: Option<String>,
    /// Capability enum values.
    #[serde(default)]
    pub capabilities: Vec<String>,
    /// Printed on the EVSE, at most 16 characters.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub physical_reference: Option<String>,
    /// At most 4 characters.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub floor_level: Option<String>,
    /// The operator took it out of service: INOPERATIVE whatever the station says.
    #[serde(default)]
    pub inoperative: bool,
    /// The connectors; empty means "the ones the station reports, with the defaults"
    /// ([`ConnectorSpec::default_for`]).
    #[serde(default)]
    pub connectors: Vec<ConnectorSpec>,
}

/// Locations: ConnectorType enum.
pub const CONNECTOR_TYPES: &[&str] = &[
    "CHADEMO",
    "CHAOJI",
    "DOMESTIC_A",
    "DOMESTIC_B",
    "DOMESTIC_C",
    "DOMESTIC_D",
    "DOMESTIC_E",
    "DOMESTIC_F",
    "DOMESTIC_G",
    "DOMESTIC_H",
    "DOMESTIC_I",
    "DOMESTIC_J",
    "DOMESTIC_K",
    "DOMESTIC_L",
    "GBT_AC",
    "GBT_DC",
    "IEC_60309_2_single_16",
    "IEC_60309_2_three_16",
    "IEC_60309_2_three_32",
    "IEC_60309_2_three_64",
    "IEC_62196_T1",
    "IEC_62196_T1_COMBO",
    "IEC_62196_T2",
    "IEC_62196_T2_COMBO",
    "IEC_62196_T3A",
    "IEC_62196_T3C",
    "NEMA_5_20",
    "NEMA_6_30",
    "NEMA_6_50",
    "NEMA_10_30",
    "NEMA_10_50",
    "NEMA_14_30",
    "NEMA_14_50",
    "PANTOGRAPH_BOTTOM_UP",
    "PANTOGRAPH_TOP_DOWN",
    "TESLA_R",
    "TESLA_S",
];
/// Locations: ConnectorFormat enum.
pub const CONNECTOR_FORMATS: &[&str] = &["SOCKET", "CABLE"];
/// Locations: PowerType enum.
pub const POWER_TYPES: &[&str] = &[
    "AC_1_PHASE",
    "AC_2_PHASE",
    "AC_2_PHASE_SPLIT",
    "AC_3_PHASE",
    "DC",
];
/// Locations: Capability enum.
pub const CAPABILITIES: &[&str] = &[
    "CHARGING_PROFILE_CAPABLE",
    "CHARGING_PREFERENCES_CAPABLE",
    "CHIP_CARD_SUPPORT",
    "CONTACTLESS_CARD_SUPPORT",
    "CREDIT_CARD_PAYABLE",
    "DEBIT_CARD_PAYABLE",
    "PED_TERMINAL",
    "REMOTE_START_STOP_CAPABLE",
    "RESERVABLE",
    "RFID_READER",
    "START_SESSION_CONNECTOR_REQUIRED",
    "TOKEN_GROUP_CAPABLE",
    "UNLOCK_CAPABLE",
];
/// Locations: Facility enum.
pub const FACILITIES: &[&str] = &[
    "HOTEL",
    "RESTAURANT",
    "CAFE",
    "MALL",
    "SUPERMARKET",
    "SPORT",
    "RECREATION_AREA",
    "NATURE",
    "MUSEUM",
    "BIKE_SHARING",
    "BUS_STOP",
    "TAXI_STAND",
    "TRAM_STOP",
    "METRO_STATION",
    "TRAIN_STATION",
    "AIRPORT",
    "PARKING_LOT",
    "CARPOOL_PARKING",
    "FUEL_STATION",
    "WIFI",
];
/// Locations: ParkingType enum.
pub const PARKING_TYPES: &[&str] = &[
    "ALONG_MOTORWAY",
    "PARKING_GARAGE",
    "PARKING_LOT",
    "ON_DRIVEWAY",
    "ON_STREET",
    "UNDERGROUND_GARAGE",
];

/// `-?[0-9]{1,max_int}\.[0-9]{5,7}`, the GeoLocation regexes without a regex engine.
fn is_degrees(s: &str, max_int: usize) -> bool {
    let s = s.strip_prefix('-').unwrap_or(s);
    let Some((int, frac)) = s.split_once('.') else {
        return false;
    };
    let digits = |p: &str| p.bytes().all(|b| b.is_ascii_digit());
    (1..=max_int).contains(&int.len())
        && (5..=7).contains(&frac.len())
        && digits(int)
        && digits(frac)
}

/// `([0-1][0-9]|2[0-3]):[0-5][0-9]` (Locations: RegularHours class).
fn is_hh_mm(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 5
        && b[2] == b':'
        && b.iter()
            .enumerate()
            .all(|(i, c)| i == 2 || c.is_ascii_digit())
        && ((b[0] == b'2' && b[1] <= b'3') || b[0] <= b'1')
        && b[3] <= b'5'
}

/// Whether `s` is an eMI3 EVSE id: country (2 letters), `*` optional, operator (3
/// alphanumerics), `*` optional, `E`, then 1 to 30 alphanumerics or `*` (eMI3 V1.0 Part 2, as
/// OCPI 2.2.1 Locations: EVSE.evse_id refers to it; at most 48 characters).
pub fn is_emi3_evse_id(s: &str) -> bool {
    let b = s.as_bytes();
    if s.len() > 48 || b.len() < 7 || !b[..2].iter().all(u8::is_ascii_alphabetic) {
        return false;
    }
    let rest = s[2..].strip_prefix('*').unwrap_or(&s[2..]);
    if rest.len() < 4 || !rest.as_bytes()[..3].iter().all(u8::is_ascii_alphanumeric) {
        return false;
    }
    let rest = &rest[3..];
    let rest = rest.strip_prefix('*').unwrap_or(rest);
    let Some(power_outlet) = rest.strip_prefix(['E', 'e']) else {
        return false;
    };
    (1..=30).contains(&power_outlet.len())
        && power_outlet
            .bytes()
            .all(|c| c.is_ascii_alphanumeric() || c == b'*')
}

fn check_len(field: &str, value: &str, max: usize) -> Result<(), String> {
    if value.is_empty() || value.chars().count() > max {
        return Err(format!("{field} must be 1 to {max} characters"));
    }
    Ok(())
}

fn check_enum(field: &str, value: &str, allowed: &[&str]) -> Result<(), String> {
    if allowed.contains(&value) {
        Ok(())
    } else {
        Err(format!("{field}: {value:?} is not one of {allowed:?}"))
    }
}

/// Whether `id` can be an OCPI Location id, EVSE uid or connector id: a CiString(36), printable
/// ASCII (Types: CiString), and without `/` so it fits in a URL path segment.
pub fn check_ocpi_id(field: &str, id: &str) -> Result<(), String> {
    if id.is_empty() || id.len() > 36 || !id.bytes().all(|b| b.is_ascii_graphic() && b != b'/') {
        return Err(format!(
            "{field} must be 1 to 36 printable ASCII characters without '/'"
        ));
    }
    Ok(())
}

impl Site {
    /// The OCPI 2.2.1 rules for a Location's own fields (Locations: Location object and its
    /// classes), as a message naming the first field that breaks one.
    pub fn validate(&self) -> Result<(), String> {
        if let Some(name) = &self.name {
            check_len("name", name, 255)?;
        }
        check_len("address", &self.address, 45)?;
        check_len("city", &self.city, 45)?;
        if let Some(p) = &self.postal_code {
            check_len("postal_code", p, 10)?;
        }
        if self.country.len() != 3 || !self.country.bytes().all(|b| b.is_ascii_uppercase()) {
            return Err("country must be an ISO 3166-1 alpha-3 code, e.g. NLD".into());
        }
        if !is_degrees(&self.coordinates.latitude, 2) {
            return Err(
                "coordinates.latitude must match -?[0-9]{1,2}\\.[0-9]{5,7}, e.g. \"50.770774\""
                    .into(),
            );
        }
        if !is_degrees(&self.coordinates.longitude, 3) {
            return Err(
                "coordinates.longitude must match -?[0-9]{1,3}\\.[0-9]{5,7}, e.g. \"-126.104965\""
                    .into(),
            );
        }
        check_len("time_zone", &self.time_zone, 255)?;
        if !self.time_zone.contains('/') && self.time_zone != "UTC" {
            return Err("time_zone must be an IANA zone name, e.g. Europe/Oslo".into());
        }
        for b in self.operator.iter().chain(self.owner.iter()) {
            check_len("business name", &b.name, 100)?;
        }
        if let Some(h) = &self.opening_times {
            if h.twentyfourseven && !h.regular_hours.is_empty() {
                return Err(
                    "opening_times: regular_hours must be empty when twentyfourseven is true"
                        .into(),
                );
            }
            if !h.twentyfourseven && h.regular_hours.is_empty() {
                return Err(
                    "opening_times: regular_hours are required unless twentyfourseven is true"
                        .into(),
                );
            }
            for r in &h.regular_hours {
                if !(1..=7).contains(&r.weekday) {
                    return Err("opening_times: weekday must be 1 (Monday) to 7 (Sunday)".into());
                }
                if !is_hh_mm(&r.period_begin) || !is_hh_mm(&r.period_end) {
                    return Err("opening_times: periods must be HH:MM, 24h, e.g. \"08:00\"".into());
                }
            }
            for p in h.exceptional_openings.iter().chain(&h.exceptional_closings) {
                if p.period_end <= p.period_begin {
                    return Err(
                        "opening_times: an exceptional period must end after it begins".into(),
                    );
                }
            }
        }
        for f in &self.facilities {
            check_enum("facilities", f, FACILITIES)?;
        }
        if let Some(p) = &self.parking_type {
            check_enum("parking_type", p, PARKING_TYPES)?;
        }
        Ok(())
    }
}

impl ConnectorSpec {
    /// The connector described when the operator gave none for a connector the station
    /// reports: a Type 2 socket, three-phase AC, 230 V, 32 A (22 kW), no tariff. The operator
    /// overrides it by listing the EVSE's connectors.
    pub fn default_for(connector_id: i32) -> ConnectorSpec {
        ConnectorSpec {
            id: connector_id.to_string(),
            standard: "IEC_62196_T2".into(),
            format: "SOCKET".into(),
            power_type: "AC_3_PHASE".into(),
            max_voltage: 230,
            max_amperage: 32,
            max_electric_power: None,
            tariff_ids: Vec::new(),
        }
    }

    /// The OCPI 2.2.1 rules for a Connector (Locations: Connector object).
    pub fn validate(&self) -> Result<(), String> {
        check_ocpi_id("connector id", &self.id)?;
        check_enum("standard", &self.standard, CONNECTOR_TYPES)?;
        check_enum("format", &self.format, CONNECTOR_FORMATS)?;
        check_enum("power_type", &self.power_type, POWER_TYPES)?;
        if self.max_voltage <= 0 || self.max_amperage <= 0 {
            return Err("max_voltage and max_amperage must be positive".into());
        }
        if self.max_electric_power.is_some_and(|p| p <= 0) {
            return Err("max_electric_power must be positive".into());
        }
        for t in &self.tariff_ids {
            check_ocpi_id("tariff_ids", t)?;
        }
        Ok(())
    }
}

impl EvseSpec {
    /// The OCPI 2.2.1 rules for an EVSE's own fields and connectors (Locations: EVSE object).
    pub fn validate(&self) -> Result<(), String> {
        if self.evse_id < 1 {
            return Err("evse_id must be 1 or more (EVSE 0 is the station itself)".into());
        }
        if let Some(e) = &self.evse_id_emi3 {
            if !is_emi3_evse_id(e) {
                return Err(format!(
                    "evse_id_emi3 {e:?} is not an eMI3 EVSE id, e.g. \"NL*ABC*E12345\""
                ));
            }
        }
        for c in &self.capabilities {
            check_enum("capabilities", c, CAPABILITIES)?;
        }
        if let Some(p) = &self.physical_reference {
            check_len("physical_reference", p, 16)?;
        }
        if let Some(f) = &self.floor_level {
            check_len("floor_level", f, 4)?;
        }
        let mut ids = std::collections::HashSet::new();
        for c in &self.connectors {
            c.validate()?;
            if !ids.insert(c.id.as_str()) {
                return Err(format!("connector id {:?} appears twice", c.id));
            }
        }
        Ok(())
    }
}

/// The statuses the core normalises every OCPP version's connector status to. The bridge keeps
/// its own copy of the vocabulary: an edge never depends on another edge.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StationStatus {
    /// Free for a new session.
    Available,
    /// 1.6 Preparing.
    Preparing,
    /// Energy flows.
    Charging,
    /// 1.6 SuspendedEV.
    SuspendedEv,
    /// 1.6 SuspendedEVSE.
    SuspendedEvse,
    /// 1.6 Finishing.
    Finishing,
    /// Reserved.
    Reserved,
    /// Taken out of service.
    Unavailable,
    /// Broken.
    Faulted,
    /// 2.0.1 Occupied.
    Occupied,
}

/// A status a station reported, as the core stored it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reported {
    /// Normalised status.
    pub status: StationStatus,
    /// The status as the station sent it.
    pub source_status: String,
    /// When we stored it (the status change time OCPI's `last_updated` follows).
    pub stored_at: DateTime<Utc>,
}

/// A connector the station reported a status for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReportedConnector {
    /// Connector number within the EVSE.
    pub connector_id: i32,
    /// Its last status.
    pub reported: Reported,
}

/// The live facts of a station, as far as an EVSE of it needs them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StationFacts {
    /// A websocket is open now.
    pub connected: bool,
    /// When it connected or disconnected; `None` if it never connected.
    pub since: Option<DateTime<Utc>>,
    /// The station-level status (EVSE 0, 1.6 connectorId 0), if reported.
    pub station_level: Option<Reported>,
}

/// One OCPI EVSE with its facts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EvseFacts {
    /// Its uid.
    pub uid: String,
    /// What the operator said.
    pub spec: EvseSpec,
    /// When the operator last changed it.
    pub updated_at: DateTime<Utc>,
    /// Its station.
    pub station: StationFacts,
    /// The connectors the station reported on this EVSE, by connector number.
    pub connectors: Vec<ReportedConnector>,
}

/// One Location with its EVSEs, as the module renders it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocationFacts {
    /// Its id.
    pub id: String,
    /// What the operator said.
    pub site: Site,
    /// When the operator last changed it.
    pub updated_at: DateTime<Utc>,
    /// Its EVSEs, by uid.
    pub evses: Vec<EvseFacts>,
}

/// Where Locations come from. Every answer reflects committed state.
#[async_trait]
pub trait LocationSource: Send + Sync + 'static {
    /// Every Location, ordered by id.
    async fn locations(&self) -> Result<Vec<LocationFacts>, StoreError>;

    /// One Location, if it exists.
    async fn location(&self, id: &str) -> Result<Option<LocationFacts>, StoreError>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn coordinates_follow_the_spec_regex() {
        assert!(is_degrees("50.770774", 2));
        assert!(is_degrees("-126.104965", 3));
        assert!(!is_degrees("-126.104965", 2));
        assert!(!is_degrees("50.7707", 2), "at least 5 decimals");
        assert!(!is_degrees("50.77077412", 2), "at most 7 decimals");
        assert!(!is_degrees("50,770774", 2));
        assert!(!is_degrees("50", 2));
    }

    #[test]
    fn emi3_evse_ids() {
        assert!(is_emi3_evse_id("NL*ABC*E12345"));
        assert!(is_emi3_evse_id("NLABCE12345"));
        assert!(is_emi3_evse_id("DE*AB7*E840*6487"));
        assert!(!is_emi3_evse_id("NL*ABC*12345"), "E is required");
        assert!(!is_emi3_evse_id("N1*ABC*E1"));
        assert!(!is_emi3_evse_id("NL*AB*E1"));
        assert!(!is_emi3_evse_id("NL*ABC*E"));
    }

    #[test]
    fn hours_are_hh_mm() {
        assert!(is_hh_mm("00:00"));
        assert!(is_hh_mm("23:59"));
        assert!(!is_hh_mm("24:00"));
        assert!(!is_hh_mm("9:00"));
        assert!(!is_hh_mm("12:60"));
    }
}
