//! Tariffs: the operator defines them, the core validates and stores them, and implements the
//! bridge's [`TariffSource`] so the OCPI Tariffs module can publish them. The model is the
//! bridge's port vocabulary (`ocpi_bridge::port::tariffs`, OCPI 2.2.1's tariff model with exact
//! decimals); the core keeps a tariff's terms as JSON text beside the columns it lists by.
//! `last_updated` is set here on every change, to whole seconds: that is what OCPI shows and
//! what its date filters compare against.

use async_trait::async_trait;
use chrono::{DateTime, SubsecRound, Utc};
use ocpi_bridge::port::outbox::{PushOperation, TARIFFS};
use ocpi_bridge::port::tariffs::{
    Price, PriceComponent, Tariff, TariffDimensionType, TariffRestrictions, TariffSource,
    TariffTerms,
};
use ocpi_bridge::port::StoreError;
use rust_decimal::Decimal;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, EntityTrait, IntoActiveModel, QueryOrder, TransactionTrait,
};

use super::{Core, CoreError};
use crate::entities::tariff;

/// Longest tariff id (Tariff object: `id` is CiString(36)).
pub const MAX_ID_LEN: usize = 36;

fn invalid(message: impl Into<String>) -> CoreError {
    CoreError::Invalid(message.into())
}

/// Checks a tariff id: 1 to 36 printable ASCII characters (Types: CiString), and no `/`, since
/// the id is a URL segment of the Receiver interface (Tariffs: Receiver Interface).
pub fn validate_id(id: &str) -> Result<(), CoreError> {
    if id.is_empty() || id.len() > MAX_ID_LEN {
        return Err(invalid(format!("id must be 1 to {MAX_ID_LEN} characters")));
    }
    if !id.bytes().all(|b| b.is_ascii_graphic() && b != b'/') {
        return Err(invalid("id must be printable ASCII without spaces or '/'"));
    }
    Ok(())
}

fn non_negative(name: &str, value: Option<Decimal>) -> Result<(), CoreError> {
    match value {
        Some(v) if v.is_sign_negative() && !v.is_zero() => {
            Err(invalid(format!("{name} must not be negative")))
        }
        _ => Ok(()),
    }
}

fn ordered<T: PartialOrd + std::fmt::Display>(
    what: &str,
    min: Option<T>,
    max: Option<T>,
) -> Result<(), CoreError> {
    match (min, max) {
        (Some(min), Some(max)) if min > max => Err(invalid(format!(
            "{what}: min ({min}) must not exceed max ({max})"
        ))),
        _ => Ok(()),
    }
}

fn text_len(name: &str, text: &str, max: usize) -> Result<(), CoreError> {
    if text.chars().count() > max {
        return Err(invalid(format!("{name} must be at most {max} characters")));
    }
    Ok(())
}

fn price(name: &str, p: &Price) -> Result<(), CoreError> {
    non_negative(&format!("{name}.excl_vat"), Some(p.excl_vat))?;
    non_negative(&format!("{name}.incl_vat"), p.incl_vat)
}

fn component(at: &str, c: &PriceComponent) -> Result<(), CoreError> {
    non_negative(&format!("{at}.price"), Some(c.price))?;
    non_negative(&format!("{at}.vat"), c.vat)?;
    if c.step_size < 1 {
        return Err(invalid(format!("{at}.step_size must be at least 1")));
    }
    Ok(())
}

fn restrictions(at: &str, r: &TariffRestrictions) -> Result<(), CoreError> {
    for (name, v) in [
        ("min_kwh", r.min_kwh),
        ("max_kwh", r.max_kwh),
        ("min_current", r.min_current),
        ("max_current", r.max_current),
        ("min_power", r.min_power),
        ("max_power", r.max_power),
    ] {
        non_negative(&format!("{at}.{name}"), v)?;
    }
    ordered(&format!("{at} kwh"), r.min_kwh, r.max_kwh)?;
    ordered(&format!("{at} current"), r.min_current, r.max_current)?;
    ordered(&format!("{at} power"), r.min_power, r.max_power)?;
    ordered(&format!("{at} duration"), r.min_duration, r.max_duration)?;
    // end_date is exclusive (TariffRestrictions class), so it must come after start_date. No such
    // rule for times of day: an end_time before start_time wraps past midnight.
    if let (Some(start), Some(end)) = (r.start_date, r.end_date) {
        if end <= start {
            return Err(invalid(format!(
                "{at}: end_date ({end}) must be after start_date ({start})"
            )));
        }
    }
    Ok(())
}

/// Checks what serde cannot (Tariffs: Object description; Types): at least one element, each
/// with at least one price component; prices, VAT and quantities not negative; `step_size` at
/// least 1; the currency three upper-case letters (ISO 4217); min not above max; text lengths;
/// `max_price` not below `min_price`; a reservation element only with FLAT and TIME components.
pub fn validate(terms: &TariffTerms) -> Result<(), CoreError> {
    let c = terms.currency.as_bytes();
    if c.len() != 3 || !c.iter().all(u8::is_ascii_uppercase) {
        return Err(invalid(
            "currency must be an ISO 4217 code: three upper-case letters",
        ));
    }
    for (i, t) in terms.tariff_alt_text.iter().enumerate() {
        let l = t.language.as_bytes();
        if l.len() != 2 || !l.iter().all(u8::is_ascii_alphabetic) {
            return Err(invalid(format!(
                "tariff_alt_text[{i}].language must be an ISO 639-1 code (two letters)"
            )));
        }
        if t.text.trim().is_empty() {
            return Err(invalid(format!(
                "tariff_alt_text[{i}].text must not be empty"
            )));
        }
        text_len(&format!("tariff_alt_text[{i}].text"), &t.text, 512)?;
    }
    if let Some(url) = &terms.tariff_alt_url {
        // Types: URL is string(255).
        text_len("tariff_alt_url", url, 255)?;
        if !(url.starts_with("https://") || url.starts_with("http://")) {
            return Err(invalid("tariff_alt_url must be an http(s) URL"));
        }
    }
    if let Some(p) = &terms.min_price {
        price("min_price", p)?;
    }
    if let Some(p) = &terms.max_price {
        price("max_price", p)?;
    }
    if let (Some(min), Some(max)) = (&terms.min_price, &terms.max_price) {
        ordered("price excl_vat", Some(min.excl_vat), Some(max.excl_vat))?;
        ordered("price incl_vat", min.incl_vat, max.incl_vat)?;
    }
    if terms.elements.is_empty() {
        return Err(invalid("elements must hold at least one tariff element"));
    }
    for (i, e) in terms.elements.iter().enumerate() {
        if e.price_components.is_empty() {
            return Err(invalid(format!(
                "elements[{i}].price_components must hold at least one price component"
            )));
        }
        for (j, c) in e.price_components.iter().enumerate() {
            component(&format!("elements[{i}].price_components[{j}]"), c)?;
        }
        if let Some(r) = &e.restrictions {
            restrictions(&format!("elements[{i}].restrictions"), r)?;
            // TariffRestrictions: reservation: only FLAT and TIME dimensions.
            if r.reservation.is_some()
                && e.price_components.iter().any(|c| {
                    !matches!(
                        c.dimension,
                        TariffDimensionType::Flat | TariffDimensionType::Time
                    )
                })
            {
                return Err(invalid(format!(
                    "elements[{i}]: a reservation element may only have FLAT and TIME components"
                )));
            }
        }
    }
    if let Some(mix) = &terms.energy_mix {
        for s in &mix.energy_sources {
            if s.percentage < Decimal::ZERO || s.percentage > Decimal::ONE_HUNDRED {
                return Err(invalid("energy_mix percentages must be 0 to 100"));
            }
        }
        for e in &mix.environ_impact {
            non_negative("energy_mix.environ_impact.amount", Some(e.amount))?;
        }
        if let Some(n) = &mix.supplier_name {
            text_len("energy_mix.supplier_name", n, 64)?;
        }
        if let Some(n) = &mix.energy_product_name {
            text_len("energy_mix.energy_product_name", n, 64)?;
        }
    }
    if let (Some(start), Some(end)) = (terms.start_date_time, terms.end_date_time) {
        if end <= start {
            return Err(invalid("end_date_time must be after start_date_time"));
        }
    }
    Ok(())
}

fn to_tariff(row: tariff::Model) -> Result<Tariff, CoreError> {
    let terms = serde_json::from_str(&row.terms)
        .map_err(|e| invalid(format!("stored tariff {} is unreadable: {e}", row.id)))?;
    Ok(Tariff {
        id: row.id,
        terms,
        last_updated: row.last_updated,
    })
}

fn terms_json(terms: &TariffTerms) -> Result<String, CoreError> {
    serde_json::to_string(terms).map_err(|e| invalid(e.to_string()))
}

impl Core {
    /// `last_updated` for a change now: whole seconds, as OCPI shows it.
    fn tariff_time(&self) -> DateTime<Utc> {
        self.now().trunc_subsecs(0)
    }

    /// Creates a tariff; a taken id is a conflict.
    pub async fn create_tariff(&self, id: String, terms: TariffTerms) -> Result<Tariff, CoreError> {
        validate_id(&id)?;
        validate(&terms)?;
        let now = self.tariff_time();
        let txn = self.db.begin().await?;
        if tariff::Entity::find_by_id(id.clone())
            .one(&txn)
            .await?
            .is_some()
        {
            return Err(CoreError::Conflict(format!("tariff {id} exists")));
        }
        let row = tariff::ActiveModel {
            id: Set(id),
            currency: Set(terms.currency.clone()),
            tariff_type: Set(terms.tariff_type.map(|t| t.as_str().to_owned())),
            terms: Set(terms_json(&terms)?),
            created_at: Set(now),
            last_updated: Set(now),
        }
        .insert(&txn)
        .await?;
        self.push_tariff(txn, &row.id, PushOperation::Put).await?;
        to_tariff(row)
    }

    /// Replaces a tariff's terms; `last_updated` moves to now.
    pub async fn replace_tariff(&self, id: &str, terms: TariffTerms) -> Result<Tariff, CoreError> {
        validate(&terms)?;
        let row = tariff::Entity::find_by_id(id.to_owned())
            .one(&self.db)
            .await?
            .ok_or_else(|| CoreError::NotFound(format!("tariff {id}")))?;
        let mut active = row.into_active_model();
        active.currency = Set(terms.currency.clone());
        active.tariff_type = Set(terms.tariff_type.map(|t| t.as_str().to_owned()));
        active.terms = Set(terms_json(&terms)?);
        active.last_updated = Set(self.tariff_time());
        let txn = self.db.begin().await?;
        let row = active.update(&txn).await?;
        self.push_tariff(txn, id, PushOperation::Put).await?;
        to_tariff(row)
    }

    /// Deletes a tariff.
    pub async fn delete_tariff(&self, id: &str) -> Result<(), CoreError> {
        let txn = self.db.begin().await?;
        let result = tariff::Entity::delete_by_id(id.to_owned())
            .exec(&txn)
            .await?;
        if result.rows_affected == 0 {
            return Err(CoreError::NotFound(format!("tariff {id}")));
        }
        self.push_tariff(txn, id, PushOperation::Delete).await
    }

    /// Writes the tariff's push to receiving partners in `txn`, the transaction of the change,
    /// and commits it (Tariffs: Receiver Interface, PUT on create or update, DELETE on delete).
    async fn push_tariff(
        &self,
        txn: sea_orm::DatabaseTransaction,
        id: &str,
        operation: PushOperation,
    ) -> Result<(), CoreError> {
        let pushed = self
            .enqueue_push(&txn, TARIFFS, id, operation, self.now())
            .await?;
        txn.commit().await?;
        if pushed {
            self.wake_push();
        }
        Ok(())
    }

    /// One tariff.
    pub async fn tariff_by_id(&self, id: &str) -> Result<Option<Tariff>, CoreError> {
        tariff::Entity::find_by_id(id.to_owned())
            .one(&self.db)
            .await?
            .map(to_tariff)
            .transpose()
    }

    /// Every tariff, by `last_updated` then id.
    pub async fn all_tariffs(&self) -> Result<Vec<Tariff>, CoreError> {
        tariff::Entity::find()
            .order_by_asc(tariff::Column::LastUpdated)
            .order_by_asc(tariff::Column::Id)
            .all(&self.db)
            .await?
            .into_iter()
            .map(to_tariff)
            .collect()
    }
}

fn store_error(e: CoreError) -> StoreError {
    StoreError::Storage(e.to_string())
}

#[async_trait]
impl TariffSource for Core {
    async fn tariffs(&self) -> Result<Vec<Tariff>, StoreError> {
        self.all_tariffs().await.map_err(store_error)
    }

    async fn tariff(&self, id: &str) -> Result<Option<Tariff>, StoreError> {
        self.tariff_by_id(id).await.map_err(store_error)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn terms(v: serde_json::Value) -> TariffTerms {
        serde_json::from_value(v).unwrap()
    }

    fn simple() -> serde_json::Value {
        json!({"currency": "EUR", "elements": [{"price_components": [
            {"type": "ENERGY", "price": 0.25, "vat": 10.0, "step_size": 1}]}]})
    }

    #[test]
    fn the_spec_simple_tariff_is_valid() {
        assert!(validate(&terms(simple())).is_ok());
    }

    #[test]
    fn each_rule_refuses_its_case() {
        let cases = [
            json!({"currency": "eur"}),
            json!({"elements": []}),
            json!({"elements": [{"price_components": []}]}),
            json!({"elements": [{"price_components": [{"type": "ENERGY", "price": -1, "step_size": 1}]}]}),
            json!({"elements": [{"price_components": [{"type": "ENERGY", "price": 1, "step_size": 0}]}]}),
            json!({"min_price": {"excl_vat": 2}, "max_price": {"excl_vat": 1}}),
        ];
        for case in cases {
            let mut v = simple();
            for (k, val) in case.as_object().unwrap() {
                v[k] = val.clone();
            }
            assert!(validate(&terms(v.clone())).is_err(), "{v}");
        }
        assert!(validate_id(&"x".repeat(37)).is_err());
        assert!(validate_id("a/b").is_err());
        assert!(validate_id("").is_err());
    }
}
