//! CDRs as the bridge reads them (OCPI 2.2.1 CDRs module, CPO Sender interface and the push to
//! the eMSP's Receiver interface). The core creates a [`Cdr`] once, when a roaming session
//! stops, stores it as it is and implements [`CdrSource`]; a CDR is never changed after that
//! (CDRs: Flow and Lifecycle), only credited by a second one.
//!
//! The model is OCPI's CDR object without the fields the bridge adds when it renders it: our
//! `country_code` and `party_id`, and the configured currency when no tariff set one
//! (`modules::cdrs::render_cdr`).

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use super::locations::GeoLocation;
use super::sessions::AuthMethod;
use super::tariffs::{decimal_number, opt_decimal_number, Price, TariffTerms};
use super::{PartnerId, StoreError};
use crate::pricing::ChargingPeriod;

/// CdrToken class (CDRs): the token the session was started with, the Session's own type.
pub use super::sessions::CdrToken;

/// CdrLocation class (CDRs): where the session took place, only its EVSE and connector.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CdrLocation {
    /// The Location id.
    pub id: String,
    /// Its name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Street and number.
    pub address: String,
    /// City.
    pub city: String,
    /// Postal code.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub postal_code: Option<String>,
    /// ISO 3166 alpha-3 country.
    pub country: String,
    /// Coordinates.
    pub coordinates: GeoLocation,
    /// The EVSE's uid.
    pub evse_uid: String,
    /// The EVSE's eMI3 id (its uid when it has none).
    pub evse_id: String,
    /// The connector's id.
    pub connector_id: String,
    /// ConnectorType enum value.
    pub connector_standard: String,
    /// `SOCKET` or `CABLE`.
    pub connector_format: String,
    /// PowerType enum value.
    pub connector_power_type: String,
}

/// SignedValue class (CDRs).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignedValue {
    /// `Start`, `End` or `Intermediate`.
    pub nature: String,
    /// The unsigned reading, when known.
    pub plain_data: String,
    /// The signed data as the meter produced it.
    pub signed_data: String,
}

/// SignedData class (CDRs): the station's signed meter values, passed through.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignedData {
    /// The encoding, e.g. `OCMF`.
    pub encoding_method: String,
    /// The values, in time order.
    pub signed_values: Vec<SignedValue>,
}

/// A tariff as it was when the CDR was made (CDRs: `tariffs`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CdrTariff {
    /// The tariff id.
    pub id: String,
    /// Its terms then.
    pub terms: TariffTerms,
    /// Its `last_updated` then.
    pub last_updated: DateTime<Utc>,
}

/// A CDR (CDRs: CDR object), without our party and currency.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cdr {
    /// Our id: at most 36 characters, 39 for a credit CDR.
    pub id: String,
    /// When the session started.
    pub start_date_time: DateTime<Utc>,
    /// When it stopped.
    pub end_date_time: DateTime<Utc>,
    /// The Session's id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_id: Option<String>,
    /// The token.
    pub cdr_token: CdrToken,
    /// How the token was authorized.
    pub auth_method: AuthMethod,
    /// The eMSP's reference from its authorization.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub authorization_reference: Option<String>,
    /// Where.
    pub cdr_location: CdrLocation,
    /// ISO 4217 currency of the costs: the tariff's, when a tariff priced the session; when
    /// `None` the bridge renders its configured currency.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub currency: Option<String>,
    /// The tariff that priced it, if any.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tariffs: Vec<CdrTariff>,
    /// At least one period.
    pub charging_periods: Vec<ChargingPeriod>,
    /// Signed meter values the station sent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signed_data: Option<SignedData>,
    /// The whole cost (negative in a credit CDR).
    pub total_cost: Price,
    /// FLAT components.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub total_fixed_cost: Option<Price>,
    /// kWh.
    #[serde(with = "decimal_number")]
    pub total_energy: Decimal,
    /// ENERGY components.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub total_energy_cost: Option<Price>,
    /// Hours.
    #[serde(with = "decimal_number")]
    pub total_time: Decimal,
    /// TIME components.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub total_time_cost: Option<Price>,
    /// Hours not charging.
    #[serde(
        default,
        with = "opt_decimal_number",
        skip_serializing_if = "Option::is_none"
    )]
    pub total_parking_time: Option<Decimal>,
    /// PARKING_TIME components.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub total_parking_cost: Option<Price>,
    /// Free text for the eMSP.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub remark: Option<String>,
    /// Set (true) on a credit CDR only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credit: Option<bool>,
    /// A credit CDR's original CDR id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credit_reference_id: Option<String>,
    /// When it was created (CDRs: a CDR's last_updated is its creation).
    pub last_updated: DateTime<Utc>,
}

impl Cdr {
    /// The credit CDR of this one (CDRs: Credit CDRs): all its data, id `{id}-C`, `credit`
    /// and `credit_reference_id` set, and only `total_cost` negated.
    pub fn credit(&self, at: DateTime<Utc>) -> Cdr {
        let mut credit = self.clone();
        credit.id = format!("{}-C", self.id);
        credit.credit = Some(true);
        credit.credit_reference_id = Some(self.id.clone());
        credit.total_cost = Price {
            excl_vat: -self.total_cost.excl_vat,
            incl_vat: self.total_cost.incl_vat.map(|v| -v),
        };
        credit.last_updated = at;
        credit
    }
}

/// A stored CDR and the eMSP it belongs to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredCdr {
    /// The eMSP owning the session's token, the only one to see it.
    pub owner: PartnerId,
    /// The CDR.
    pub cdr: Cdr,
}

/// Where CDRs come from; implemented by the core.
#[async_trait]
pub trait CdrSource: Send + Sync + 'static {
    /// One CDR by our id.
    async fn cdr(&self, id: &str) -> Result<Option<StoredCdr>, StoreError>;

    /// Every CDR of sessions of tokens `owner` owns, oldest first.
    async fn cdrs(&self, owner: PartnerId) -> Result<Vec<StoredCdr>, StoreError>;

    /// The eMSP accepted the CDR and answered with `location`, its URL of it.
    async fn delivered(&self, id: &str, location: Option<&str>) -> Result<(), StoreError>;
}

/// A small CDR for unit tests: 3 kWh, 1.75 (2.10 with VAT), made at `at`.
#[cfg(test)]
pub(crate) fn example(at: DateTime<Utc>) -> Cdr {
    Cdr {
        id: "abc".into(),
        start_date_time: at,
        end_date_time: at,
        session_id: Some("1".into()),
        cdr_token: CdrToken {
            country_code: "DE".into(),
            party_id: "EMS".into(),
            uid: "U".into(),
            token_type: super::tokens::TokenType::Rfid,
            contract_id: "C".into(),
        },
        auth_method: AuthMethod::Whitelist,
        authorization_reference: None,
        cdr_location: CdrLocation {
            id: "L".into(),
            name: None,
            address: "a".into(),
            city: "c".into(),
            postal_code: None,
            country: "NLD".into(),
            coordinates: GeoLocation {
                latitude: "1.0".into(),
                longitude: "2.0".into(),
            },
            evse_uid: "E".into(),
            evse_id: "E".into(),
            connector_id: "1".into(),
            connector_standard: "IEC_62196_T2".into(),
            connector_format: "SOCKET".into(),
            connector_power_type: "AC_3_PHASE".into(),
        },
        currency: Some("EUR".into()),
        tariffs: Vec::new(),
        charging_periods: Vec::new(),
        signed_data: None,
        total_cost: Price {
            excl_vat: Decimal::new(175, 2),
            incl_vat: Some(Decimal::new(210, 2)),
        },
        total_fixed_cost: None,
        total_energy: Decimal::new(3, 0),
        total_energy_cost: Some(Price {
            excl_vat: Decimal::new(75, 2),
            incl_vat: None,
        }),
        total_time: Decimal::ONE,
        total_time_cost: None,
        total_parking_time: None,
        total_parking_cost: None,
        remark: None,
        credit: None,
        credit_reference_id: None,
        last_updated: at,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_credit_negates_only_the_total_cost() {
        let at = DateTime::<Utc>::from_timestamp(1_700_000_000, 0).unwrap();
        let cdr = example(at);
        let credit = cdr.credit(at);
        assert_eq!(credit.id, "abc-C");
        assert_eq!(credit.credit_reference_id.as_deref(), Some("abc"));
        assert_eq!(credit.total_cost.excl_vat, Decimal::new(-175, 2));
        assert_eq!(credit.total_cost.incl_vat, Some(Decimal::new(-210, 2)));
        assert_eq!(credit.total_energy_cost, cdr.total_energy_cost);
        assert_eq!(credit.total_energy, cdr.total_energy);
    }
}
