//! Roaming tokens: the core's side of the bridge's [`TokenStore`] port (tokens eMSPs push,
//! OCPI 2.2.1 Tokens: Receiver interface), and their part in the one authorization question
//! ([`Core::decide`]): whitelist rules, and the real-time answer of the owning eMSP asked through
//! the [`RoamingAuthorizer`] port, so the core never speaks OCPI.

use async_trait::async_trait;
use ocpi_bridge::port::tokens::{
    AllowedType, RoamingAuthorizer, Token, TokenStore, TokenType, WhitelistType,
};
use ocpi_bridge::port::{PartnerId, PartnerStatus, StoreError};
use ocpp_gateway::port::{AuthorizationStatus, TokenVerdict};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, EntityTrait, IntoActiveModel, QueryFilter,
    QueryOrder,
};

use super::partners::to_partner;
use super::roaming_kpis::AuthorizationOutcome;
use super::{Core, CoreError};
use crate::entities::ocpi_token;

fn storage(e: sea_orm::DbErr) -> StoreError {
    StoreError::Storage(e.to_string())
}

fn to_token(row: ocpi_token::Model) -> Token {
    Token {
        country_code: row.country_code,
        party_id: row.party_id,
        uid: row.uid,
        // Only this file writes these columns; unknown values would be corrupted rows.
        token_type: TokenType::parse(&row.token_type).unwrap_or(TokenType::Other),
        contract_id: row.contract_id,
        visual_number: row.visual_number,
        issuer: row.issuer,
        group_id: row.group_id,
        valid: row.valid,
        whitelist: WhitelistType::parse(&row.whitelist).unwrap_or(WhitelistType::Never),
        language: row.language,
        default_profile_type: row
            .default_profile_type
            .and_then(|p| serde_json::from_value(serde_json::Value::String(p)).ok()),
        energy_contract: row
            .energy_contract
            .and_then(|e| serde_json::from_str(&e).ok()),
        last_updated: row.last_updated,
    }
}

/// The OCPP verdict for the eMSP's AllowedType (Tokens: AllowedType enum). OCPP 1.6 has no
/// NoCredit, and NOT_ALLOWED means "not here, not now": both refuse as Invalid.
fn from_allowed(allowed: AllowedType) -> AuthorizationStatus {
    match allowed {
        AllowedType::Allowed => AuthorizationStatus::Accepted,
        AllowedType::Blocked => AuthorizationStatus::Blocked,
        AllowedType::Expired => AuthorizationStatus::Expired,
        AllowedType::NoCredit | AllowedType::NotAllowed => AuthorizationStatus::Invalid,
    }
}

/// The verdict the stored token alone gives: accepted while the eMSP says it is valid.
fn from_stored(token: &ocpi_token::Model) -> AuthorizationStatus {
    if token.valid {
        AuthorizationStatus::Accepted
    } else {
        AuthorizationStatus::Blocked
    }
}

/// Which roaming token decided a verdict and how: what a transaction started with it keeps for
/// its OCPI Session (Sessions: Session object, `cdr_token` and `auth_method`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct RoamingOrigin {
    /// The partner that owns the token.
    pub partner_id: i64,
    /// The `ocpi_token` row.
    pub token_id: i64,
    /// Whether the eMSP answered in real time (AUTH_REQUEST) rather than the stored token
    /// deciding (WHITELIST) (Types: AuthMethod enum).
    pub realtime: bool,
    /// Whether the eMSP's START_SESSION command authorized it (COMMAND; `ocpi_commands.rs`).
    pub command: bool,
}

impl RoamingOrigin {
    /// The stored AuthMethod name.
    pub fn auth_method(self) -> &'static str {
        if self.command {
            "COMMAND"
        } else if self.realtime {
            "AUTH_REQUEST"
        } else {
            "WHITELIST"
        }
    }
}

impl Core {
    /// Wires the real-time authorization of roaming tokens (the bridge's, at start-up). The
    /// first one set stays; without one, roaming tokens are decided as if the eMSP were down.
    pub fn set_roaming_authorizer(&self, authorizer: std::sync::Arc<dyn RoamingAuthorizer>) {
        // Set once at wiring time; a second call changes nothing.
        let _ = self.roaming.set(authorizer);
    }

    /// The verdict on a token no operator entry knows, from the roaming tokens partners pushed,
    /// with the eMSP's authorization reference when it answered in real time.
    pub(crate) async fn roaming_verdict(
        &self,
        uid: &str,
    ) -> Result<(TokenVerdict, Option<String>, Option<RoamingOrigin>), CoreError> {
        let rows = ocpi_token::Entity::find()
            .filter(ocpi_token::Column::Uid.eq(uid))
            .order_by_desc(ocpi_token::Column::LastUpdated)
            .all(&self.db)
            .await?;
        // A station presents a uid only; an RFID token is what it most likely read.
        let Some(row) = rows
            .iter()
            .find(|r| r.token_type == TokenType::Rfid.as_str())
            .or(rows.first())
        else {
            return Ok((
                TokenVerdict::plain(AuthorizationStatus::Invalid),
                None,
                None,
            ));
        };
        let origin = |realtime| {
            Some(RoamingOrigin {
                partner_id: row.partner_id,
                token_id: row.id,
                realtime,
                command: false,
            })
        };
        let verdict = |status| TokenVerdict {
            status,
            expiry_date: None,
            group_id_token: row.group_id.clone(),
        };
        let whitelist = WhitelistType::parse(&row.whitelist).unwrap_or(WhitelistType::Never);
        // Tokens: WhitelistType enum: ALWAYS needs no real-time authorization.
        if whitelist == WhitelistType::Always {
            let status = from_stored(row);
            self.count_authorization(status, false);
            return Ok((verdict(status), None, origin(false)));
        }
        let token_type = TokenType::parse(&row.token_type).unwrap_or(TokenType::Other);
        let answer = match (
            self.roaming.get(),
            self.partner_row(PartnerId(row.partner_id)).await,
        ) {
            (Some(authorizer), Ok(partner))
                if partner.status == PartnerStatus::Registered.as_str() =>
            {
                authorizer
                    .authorize(&to_partner(partner), uid, token_type)
                    .await
                    .map_err(|e| e.to_string())
            }
            (None, _) => Err("real-time authorization is not wired".to_owned()),
            _ => Err("the owning partner is not registered".to_owned()),
        };
        match answer {
            Ok(v) => {
                let status = from_allowed(v.allowed);
                self.count_authorization(status, false);
                Ok((verdict(status), v.authorization_reference, origin(true)))
            }
            Err(why) => {
                // Tokens: WhitelistType enum: ALLOWED and ALLOWED_OFFLINE fall back to the
                // stored token when the eMSP cannot be reached; NEVER does not.
                let status = match whitelist {
                    WhitelistType::Never => AuthorizationStatus::Invalid,
                    _ => from_stored(row),
                };
                tracing::warn!(%uid, whitelist = whitelist.as_str(), error = %why, verdict = ?status, "real-time authorization unavailable");
                self.count_authorization(status, true);
                Ok((verdict(status), None, origin(false)))
            }
        }
    }

    /// Counts a roaming authorization for the KPIs: `unanswered` when the eMSP could not be
    /// asked or did not answer in time, whatever the stored token then decided.
    fn count_authorization(&self, status: AuthorizationStatus, unanswered: bool) {
        let outcome = if unanswered {
            AuthorizationOutcome::TimedOut
        } else if status == AuthorizationStatus::Accepted {
            AuthorizationOutcome::Accepted
        } else {
            AuthorizationOutcome::Rejected
        };
        self.roaming_authorizations.record(outcome);
    }

    async fn token_row(
        &self,
        owner: PartnerId,
        country_code: &str,
        party_id: &str,
        uid: &str,
        token_type: TokenType,
    ) -> Result<Option<ocpi_token::Model>, StoreError> {
        ocpi_token::Entity::find()
            .filter(ocpi_token::Column::PartnerId.eq(owner.0))
            .filter(ocpi_token::Column::CountryCode.eq(country_code))
            .filter(ocpi_token::Column::PartyId.eq(party_id))
            .filter(ocpi_token::Column::Uid.eq(uid))
            .filter(ocpi_token::Column::TokenType.eq(token_type.as_str()))
            .one(&self.db)
            .await
            .map_err(storage)
    }
}

#[async_trait]
impl TokenStore for Core {
    async fn token(
        &self,
        owner: PartnerId,
        country_code: &str,
        party_id: &str,
        uid: &str,
        token_type: TokenType,
    ) -> Result<Option<Token>, StoreError> {
        Ok(self
            .token_row(owner, country_code, party_id, uid, token_type)
            .await?
            .map(to_token))
    }

    async fn put_token(&self, owner: PartnerId, token: Token) -> Result<(), StoreError> {
        let existing = self
            .token_row(
                owner,
                &token.country_code,
                &token.party_id,
                &token.uid,
                token.token_type,
            )
            .await?;
        // Whether the token's place in the stations' local lists may change (`local_lists.rs`).
        let listed = |valid: bool, whitelist: &str, group: Option<&str>| {
            let offline = matches!(
                WhitelistType::parse(whitelist),
                Some(WhitelistType::Always | WhitelistType::AllowedOffline)
            );
            (valid && offline).then(|| group.map(str::to_owned))
        };
        let listed_before = existing
            .as_ref()
            .map(|r| listed(r.valid, &r.whitelist, r.group_id.as_deref()));
        let listed_after = listed(
            token.valid,
            token.whitelist.as_str(),
            token.group_id.as_deref(),
        );
        let list_changes = listed_before.flatten() != listed_after;
        let mut row = match existing {
            Some(found) => found.into_active_model(),
            None => ocpi_token::ActiveModel {
                partner_id: Set(owner.0),
                country_code: Set(token.country_code.clone()),
                party_id: Set(token.party_id.clone()),
                uid: Set(token.uid.clone()),
                token_type: Set(token.token_type.as_str().to_owned()),
                ..Default::default()
            },
        };
        row.contract_id = Set(token.contract_id);
        row.visual_number = Set(token.visual_number);
        row.issuer = Set(token.issuer);
        row.group_id = Set(token.group_id);
        row.valid = Set(token.valid);
        row.whitelist = Set(token.whitelist.as_str().to_owned());
        row.language = Set(token.language);
        row.default_profile_type = Set(token
            .default_profile_type
            .and_then(|p| serde_json::to_value(p).ok())
            .and_then(|v| v.as_str().map(str::to_owned)));
        row.energy_contract = Set(token
            .energy_contract
            .and_then(|e| serde_json::to_string(&e).ok()));
        row.last_updated = Set(token.last_updated);
        row.save(&self.db).await.map_err(storage)?;
        // The eMSP's PUT does not wait for any station: the sync sends the lists on its own.
        if list_changes {
            self.roaming_tokens_changed();
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_emsps_answer_maps_to_the_ocpp_verdict() {
        assert_eq!(
            from_allowed(AllowedType::Allowed),
            AuthorizationStatus::Accepted
        );
        assert_eq!(
            from_allowed(AllowedType::Blocked),
            AuthorizationStatus::Blocked
        );
        assert_eq!(
            from_allowed(AllowedType::Expired),
            AuthorizationStatus::Expired
        );
        assert_eq!(
            from_allowed(AllowedType::NoCredit),
            AuthorizationStatus::Invalid
        );
        assert_eq!(
            from_allowed(AllowedType::NotAllowed),
            AuthorizationStatus::Invalid
        );
    }
}
