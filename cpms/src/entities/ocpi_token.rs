//! Roaming tokens pushed by eMSP partners (OCPI 2.2.1 Tokens module).

use sea_orm::entity::prelude::*;

/// One row of `ocpi_token`: an OCPI Token object, owned by the partner that pushed it.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "ocpi_token")]
pub struct Model {
    /// Database id.
    #[sea_orm(primary_key)]
    pub id: i64,
    /// The partner that pushed it.
    pub partner_id: i64,
    /// Country code of the owning eMSP.
    pub country_code: String,
    /// Party id of the owning eMSP.
    pub party_id: String,
    /// The token's uid (what a station presents).
    pub uid: String,
    /// TokenType: `AD_HOC_USER`, `APP_USER`, `OTHER`, `RFID`.
    pub token_type: String,
    /// Contract id (eMAID).
    pub contract_id: String,
    /// Number printed on the token.
    pub visual_number: Option<String>,
    /// Issuing company.
    pub issuer: String,
    /// Group id.
    pub group_id: Option<String>,
    /// Whether the eMSP says it may be used.
    pub valid: bool,
    /// WhitelistType: `ALWAYS`, `ALLOWED`, `ALLOWED_OFFLINE`, `NEVER`.
    pub whitelist: String,
    /// ISO 639-1 language.
    pub language: Option<String>,
    /// ProfileType.
    pub default_profile_type: Option<String>,
    /// EnergyContract as JSON.
    pub energy_contract: Option<String>,
    /// When the eMSP last changed it.
    pub last_updated: DateTimeUtc,
}

/// No relations are navigated.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
