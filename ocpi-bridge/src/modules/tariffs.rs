//! Tariffs module, Sender interface (OCPI 2.2.1 Tariffs: Interfaces and Endpoints, Sender
//! Interface): `GET /ocpi/2.2.1/tariffs`, the paginated list of our tariffs for registered
//! partners. 2.2.1's Sender interface has no GET of a single tariff; the push of single
//! tariffs to Receivers renders them with [`ocpi_tariff`].

use axum::extract::{Query, State};
use axum::http::HeaderMap;
use serde::Serialize;
use serde_json::{Map, Value};

use crate::port::tariffs::Tariff;
use crate::transport::{ocpi_time, OcpiError, OcpiResponse, PageQuery};
use crate::Bridge;

/// `value` (a struct without its owner) as a JSON object owned by our party: `country_code`
/// and `party_id` added. Tariffs and CDRs are stored without the owner, which is the
/// platform's configuration, so both render through here; a value that is not an object
/// renders as an empty one.
pub(crate) fn owned_object(
    value: &impl Serialize,
    country_code: &str,
    party_id: &str,
) -> Result<Map<String, Value>, OcpiError> {
    let mut object = match serde_json::to_value(value) {
        Ok(Value::Object(map)) => map,
        Ok(_) => Map::new(),
        Err(e) => return Err(OcpiError::internal(e.to_string())),
    };
    object.insert("country_code".into(), country_code.into());
    object.insert("party_id".into(), party_id.into());
    Ok(object)
}

/// The Tariff object (Tariffs: Object description) for one stored tariff, owned by the
/// platform's country code and party id. The terms already carry the spec's field names and
/// number formats; this adds the owner, the id and `last_updated`.
pub fn ocpi_tariff(
    tariff: &Tariff,
    country_code: &str,
    party_id: &str,
) -> Result<Value, OcpiError> {
    let mut object = owned_object(&tariff.terms, country_code, party_id)?;
    object.insert("id".into(), tariff.id.clone().into());
    object.insert("last_updated".into(), ocpi_time(tariff.last_updated).into());
    Ok(Value::Object(object))
}

/// `GET /ocpi/2.2.1/tariffs?[date_from]&[date_to]&[offset]&[limit]` (Tariffs: Sender
/// Interface, GET Method): tariffs with `last_updated` in `[date_from, date_to)`, paginated
/// (Transport and format: Pagination). Registered partners only.
pub async fn list(
    State(bridge): State<Bridge>,
    headers: HeaderMap,
    query: Result<Query<PageQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<OcpiResponse, OcpiError> {
    let (_, page) = bridge.paginated_get(&headers, query).await?;
    let source = bridge
        .tariff_source()
        .ok_or_else(|| OcpiError::internal("no tariff source configured"))?;
    let tariffs = source.tariffs().await?;
    let config = bridge.config();
    page.respond(
        tariffs.iter().filter(|t| page.in_window(t.last_updated)),
        &format!("{}/tariffs", bridge.version_details_url()),
        |t: &Tariff| ocpi_tariff(t, &config.country_code, &config.party_id),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use serde_json::json;

    #[test]
    fn a_tariff_carries_owner_id_and_last_updated() {
        let terms = serde_json::from_value(json!({
            "currency": "EUR",
            "elements": [{"price_components": [
                {"type": "ENERGY", "price": 0.25, "vat": 10.0, "step_size": 1}
            ]}]
        }))
        .unwrap();
        let tariff = Tariff {
            id: "16".into(),
            terms,
            last_updated: chrono::Utc
                .with_ymd_and_hms(2018, 12, 17, 11, 16, 55)
                .unwrap(),
        };
        let v = ocpi_tariff(&tariff, "DE", "ALL").unwrap();
        assert_eq!(
            v.to_string(),
            json!({
                "country_code": "DE", "party_id": "ALL", "id": "16", "currency": "EUR",
                "elements": [{"price_components": [
                    {"type": "ENERGY", "price": 0.25, "vat": 10.0, "step_size": 1}
                ]}],
                "last_updated": "2018-12-17T11:16:55Z"
            })
            .to_string()
        );
    }
}
