//! Sessions module, CPO Sender interface (OCPI 2.2.1 Sessions: Interfaces and endpoints, Sender
//! Interface): `GET /ocpi/2.2.1/sessions`, the paginated list of the calling eMSP's sessions.
//! The pushes to the owning eMSP's Receiver interface render with [`render_session`] too.

use axum::extract::{Query, State};
use axum::http::HeaderMap;
use rust_decimal::prelude::ToPrimitive;
use serde_json::{json, Value};

use crate::port::sessions::SessionFacts;
use crate::transport::{ocpi_time, OcpiError, OcpiResponse, PageQuery};
use crate::Bridge;

/// The Session object (Sessions: Session object) of `facts`, owned by our party, priced in
/// `currency`.
pub fn render_session(
    facts: &SessionFacts,
    country_code: &str,
    party_id: &str,
    currency: &str,
) -> Value {
    // Sessions: Session object: kwh is a number; three decimals are Wh precision.
    let kwh = facts.kwh.round_dp(3).to_f64().unwrap_or(0.0);
    let mut session = json!({
        "country_code": country_code,
        "party_id": party_id,
        "id": facts.id,
        "start_date_time": ocpi_time(facts.start_date_time),
        "kwh": kwh,
        "cdr_token": {
            "country_code": facts.cdr_token.country_code,
            "party_id": facts.cdr_token.party_id,
            "uid": facts.cdr_token.uid,
            "type": facts.cdr_token.token_type,
            "contract_id": facts.cdr_token.contract_id,
        },
        "auth_method": facts.auth_method,
        "location_id": facts.location_id,
        "evse_uid": facts.evse_uid,
        "connector_id": facts.connector_id,
        "currency": currency,
        "status": facts.status,
        "last_updated": ocpi_time(facts.last_updated),
    });
    if let Some(end) = facts.end_date_time {
        session["end_date_time"] = ocpi_time(end).into();
    }
    if let Some(reference) = &facts.authorization_reference {
        session["authorization_reference"] = reference.clone().into();
    }
    // Sessions: Session object: both optional, sent when a tariff prices the session.
    if !facts.charging_periods.is_empty() {
        let periods: Vec<Value> = facts
            .charging_periods
            .iter()
            .map(|p| {
                let mut period = json!({
                    "start_date_time": ocpi_time(p.start_date_time),
                    "dimensions": serde_json::to_value(&p.dimensions).unwrap_or(Value::Null),
                });
                if let Some(tariff) = &p.tariff_id {
                    period["tariff_id"] = tariff.clone().into();
                }
                period
            })
            .collect();
        session["charging_periods"] = periods.into();
    }
    if let Some(cost) = &facts.total_cost {
        session["total_cost"] = serde_json::to_value(cost).unwrap_or(Value::Null);
    }
    session
}

/// The body of a Session PATCH (Sessions: Receiver interface, PATCH method) from the full
/// Session object `full`: what changes while charging (kwh, status, charging_periods,
/// total_cost) and last_updated.
pub fn render_session_patch(full: &Value) -> Value {
    let mut patch = json!({
        "kwh": full["kwh"],
        "status": full["status"],
        "last_updated": full["last_updated"],
    });
    for field in ["charging_periods", "total_cost"] {
        if let Some(value) = full.get(field) {
            patch[field] = value.clone();
        }
    }
    patch
}

/// `GET /ocpi/2.2.1/sessions?date_from&[date_to]&[offset]&[limit]` (Sessions: Sender
/// Interface, GET Method): the caller's sessions with `last_updated` in `[date_from, date_to)`,
/// paginated (Transport and format: Pagination). Each eMSP sees only sessions of its tokens.
pub async fn list(
    State(bridge): State<Bridge>,
    headers: HeaderMap,
    query: Result<Query<PageQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<OcpiResponse, OcpiError> {
    let (partner, page) = bridge.paginated_get(&headers, query).await?;
    let source = bridge
        .session_source()
        .ok_or_else(|| OcpiError::internal("the Sessions module is not wired"))?;
    let sessions = source.sessions(partner.id).await?;
    let config = bridge.config();
    page.respond(
        sessions.iter().filter(|s| page.in_window(s.last_updated)),
        &format!("{}/sessions", bridge.version_details_url()),
        |s: &SessionFacts| {
            Ok(render_session(
                s,
                &config.country_code,
                &config.party_id,
                &config.currency,
            ))
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::port::sessions::{AuthMethod, CdrToken, SessionStatus};
    use crate::port::tokens::TokenType;
    use crate::port::PartnerId;
    use chrono::{DateTime, TimeZone, Utc};

    /// An active, unpriced session of an RFID token at L1/E1/1, started and last updated at
    /// `at`; each test changes what it is about.
    fn facts(at: DateTime<Utc>) -> SessionFacts {
        SessionFacts {
            id: "7".into(),
            owner: PartnerId(1),
            start_date_time: at,
            end_date_time: None,
            kwh: rust_decimal::Decimal::ZERO,
            cdr_token: CdrToken {
                country_code: "DE".into(),
                party_id: "EMS".into(),
                uid: "RF1".into(),
                token_type: TokenType::Rfid,
                contract_id: "DE-EMS-C1".into(),
            },
            auth_method: AuthMethod::Whitelist,
            authorization_reference: None,
            location_id: "L1".into(),
            evse_uid: "E1".into(),
            connector_id: "1".into(),
            status: SessionStatus::Active,
            charging_periods: Vec::new(),
            total_cost: None,
            last_updated: at,
        }
    }

    #[test]
    fn a_completed_session_carries_its_token_place_and_energy() {
        let at = chrono::Utc.with_ymd_and_hms(2026, 1, 1, 10, 0, 0).unwrap();
        let facts = SessionFacts {
            end_date_time: Some(at + chrono::Duration::hours(1)),
            kwh: rust_decimal::Decimal::new(12345, 3),
            status: SessionStatus::Completed,
            ..facts(at)
        };
        let v = render_session(&facts, "NL", "CPO", "EUR");
        assert_eq!(v["kwh"], 12.345);
        assert_eq!(v["status"], "COMPLETED");
        assert_eq!(v["auth_method"], "WHITELIST");
        assert_eq!(v["cdr_token"]["type"], "RFID");
        assert_eq!(v["end_date_time"], "2026-01-01T11:00:00Z");
        assert!(v.get("authorization_reference").is_none());
        assert!(v.get("total_cost").is_none());
        assert!(v.get("charging_periods").is_none());
    }

    #[test]
    fn a_priced_session_carries_its_periods_and_cost_as_numbers() {
        use crate::port::tariffs::Price;
        use crate::pricing::{CdrDimension, CdrDimensionType, ChargingPeriod};
        let at = chrono::Utc.with_ymd_and_hms(2026, 1, 1, 10, 0, 0).unwrap();
        let facts = SessionFacts {
            id: "8".into(),
            kwh: rust_decimal::Decimal::new(25, 1),
            charging_periods: vec![ChargingPeriod {
                start_date_time: at,
                dimensions: vec![CdrDimension {
                    dimension: CdrDimensionType::Energy,
                    volume: rust_decimal::Decimal::new(25, 1),
                }],
                tariff_id: Some("T1".into()),
            }],
            total_cost: Some(Price {
                excl_vat: rust_decimal::Decimal::new(625, 3),
                incl_vat: Some(rust_decimal::Decimal::new(75, 2)),
            }),
            ..facts(at)
        };
        let v = render_session(&facts, "NL", "CPO", "EUR");
        assert_eq!(v["total_cost"]["excl_vat"], serde_json::json!(0.625));
        assert_eq!(v["total_cost"]["incl_vat"], serde_json::json!(0.75));
        let period = &v["charging_periods"][0];
        assert_eq!(period["start_date_time"], "2026-01-01T10:00:00Z");
        assert_eq!(period["tariff_id"], "T1");
        assert_eq!(period["dimensions"][0]["type"], "ENERGY");
        assert_eq!(period["dimensions"][0]["volume"], serde_json::json!(2.5));
    }
}
