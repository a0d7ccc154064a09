//! CDRs module, CPO Sender interface (OCPI 2.2.1 CDRs: Sender Interface): `GET
//! /ocpi/2.2.1/cdrs`, the paginated list of the calling eMSP's CDRs. The POST to the owning
//! eMSP's Receiver interface (`push.rs`) renders with [`render_cdr`] too, so both send the same
//! object, frozen when the session stopped.
//!
//! There is no GET of one CDR on the Sender interface (CDRs: Sender Interface lists only the
//! paginated GET).

use axum::extract::{Query, State};
use axum::http::HeaderMap;
use serde_json::Value;

use crate::modules::tariffs::{ocpi_tariff, owned_object};
use crate::port::cdrs::{Cdr, StoredCdr};
use crate::port::tariffs::Tariff;
use crate::transport::{ocpi_time, OcpiError, OcpiResponse, PageQuery};
use crate::Bridge;

/// The CDR object (CDRs: CDR object) of `cdr`, owned by our party, in its tariff's currency or
/// else `currency`, its tariffs rendered as Tariff objects of ours.
pub fn render_cdr(
    cdr: &Cdr,
    country_code: &str,
    party_id: &str,
    currency: &str,
) -> Result<Value, OcpiError> {
    let mut object = owned_object(cdr, country_code, party_id)?;
    if cdr.currency.is_none() {
        object.insert("currency".into(), currency.into());
    }
    // Types: DateTime: whole seconds in UTC are what every receiver parses.
    object.insert(
        "start_date_time".into(),
        ocpi_time(cdr.start_date_time).into(),
    );
    object.insert("end_date_time".into(), ocpi_time(cdr.end_date_time).into());
    object.insert("last_updated".into(), ocpi_time(cdr.last_updated).into());
    if let Some(Value::Array(periods)) = object.get_mut("charging_periods") {
        for (rendered, period) in periods.iter_mut().zip(&cdr.charging_periods) {
            rendered["start_date_time"] = ocpi_time(period.start_date_time).into();
        }
    }
    if !cdr.tariffs.is_empty() {
        let tariffs = cdr
            .tariffs
            .iter()
            .map(|t| {
                let tariff = Tariff {
                    id: t.id.clone(),
                    terms: t.terms.clone(),
                    last_updated: t.last_updated,
                };
                ocpi_tariff(&tariff, country_code, party_id)
            })
            .collect::<Result<Vec<Value>, OcpiError>>()?;
        object.insert("tariffs".into(), Value::Array(tariffs));
    }
    Ok(Value::Object(object))
}

/// `GET /ocpi/2.2.1/cdrs?[date_from]&[date_to]&[offset]&[limit]` (CDRs: Sender Interface, GET
/// Method): the caller's CDRs with `last_updated` in `[date_from, date_to)`, paginated
/// (Transport and format: Pagination). Each eMSP sees only CDRs of its tokens.
pub async fn list(
    State(bridge): State<Bridge>,
    headers: HeaderMap,
    query: Result<Query<PageQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<OcpiResponse, OcpiError> {
    let (partner, page) = bridge.paginated_get(&headers, query).await?;
    let source = bridge
        .cdr_source()
        .ok_or_else(|| OcpiError::internal("the CDRs module is not wired"))?;
    let cdrs = source.cdrs(partner.id).await?;
    let config = bridge.config();
    page.respond(
        cdrs.iter().filter(|c| page.in_window(c.cdr.last_updated)),
        &format!("{}/cdrs", bridge.version_details_url()),
        |c: &StoredCdr| {
            render_cdr(
                &c.cdr,
                &config.country_code,
                &config.party_id,
                &config.currency,
            )
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::port::cdrs::example;

    #[test]
    fn a_cdr_renders_with_our_party_whole_seconds_and_its_own_currency() {
        let at = chrono::DateTime::<chrono::Utc>::from_timestamp_millis(1_700_000_000_250).unwrap();
        let mut cdr = example(at);
        let v = render_cdr(&cdr, "NL", "CPO", "USD").unwrap();
        assert_eq!(v["country_code"], "NL");
        assert_eq!(v["party_id"], "CPO");
        assert_eq!(v["currency"], "EUR");
        assert_eq!(v["last_updated"], "2023-11-14T22:13:20Z");
        assert_eq!(v["total_cost"]["excl_vat"].to_string(), "1.75");
        assert!(v.get("credit").is_none());
        cdr.currency = None;
        let v = render_cdr(&cdr, "NL", "CPO", "USD").unwrap();
        assert_eq!(v["currency"], "USD");
    }
}
