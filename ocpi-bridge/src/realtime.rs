//! Real-time authorization of roaming tokens (OCPI 2.2.1 Tokens: Sender interface, real-time
//! authorization): `POST {eMSP tokens endpoint}/{uid}/authorize?type=...`, answered with an
//! AuthorizationInfo. The bridge's implementation of the core's [`RoamingAuthorizer`] question.
//!
//! It holds no partner store: the core hands it the owning partner, so the core and the bridge do
//! not own each other.

use async_trait::async_trait;
use serde::Deserialize;

use crate::auth::TokenCipher;
use crate::client::{ClientError, OcpiClient};
use crate::port::tokens::{AllowedType, RoamingAuthorizer, RoamingVerdict, TokenType, Unreachable};
use crate::port::Partner;
use crate::transport::{OcpiStatus, PartyRef, Routing};

/// AuthorizationInfo object; the fields we use.
#[derive(Debug, Deserialize)]
struct AuthorizationInfo {
    allowed: AllowedType,
    #[serde(default)]
    authorization_reference: Option<String>,
}

/// Asks the owning eMSP about a token, with a short timeout.
#[derive(Clone)]
pub struct RealtimeAuthorizer {
    pub(crate) client: OcpiClient,
    pub(crate) cipher: TokenCipher,
    pub(crate) from: PartyRef,
}

#[async_trait]
impl RoamingAuthorizer for RealtimeAuthorizer {
    async fn authorize(
        &self,
        partner: &Partner,
        uid: &str,
        token_type: TokenType,
    ) -> Result<RoamingVerdict, Unreachable> {
        // The eMSP is the Sender of Tokens; real-time authorization lives on that interface.
        let endpoint = partner
            .endpoints
            .iter()
            .find(|e| e.identifier == "tokens" && e.role == "SENDER")
            .ok_or_else(|| Unreachable("the partner has no tokens SENDER endpoint".into()))?;
        let token = partner
            .their_token
            .as_deref()
            .ok_or_else(|| Unreachable("no token for the partner".into()))
            .and_then(|t| {
                self.cipher
                    .decrypt(t)
                    .map_err(|e| Unreachable(e.to_string()))
            })?;
        let mut url = reqwest::Url::parse(endpoint.url.trim_end_matches('/'))
            .map_err(|e| Unreachable(format!("bad tokens endpoint: {e}")))?;
        url.path_segments_mut()
            .map_err(|_| Unreachable("bad tokens endpoint".into()))?
            .push(uid)
            .push("authorize");
        url.query_pairs_mut()
            .append_pair("type", token_type.as_str());
        let routing = Routing {
            from: Some(self.from.clone()),
            to: partner
                .roles
                .iter()
                .find(|r| r.role == "EMSP")
                .map(|r| PartyRef {
                    country_code: r.country_code.clone(),
                    party_id: r.party_id.clone(),
                }),
        };
        let answer: Result<AuthorizationInfo, ClientError> = self
            .client
            .send::<(), _>(reqwest::Method::POST, url.as_str(), &token, &routing, None)
            .await;
        match answer {
            Ok(info) => Ok(RoamingVerdict {
                allowed: info.allowed,
                authorization_reference: info.authorization_reference,
            }),
            // Tokens: real-time authorization: an unknown token is answered 2004; that is an
            // answer (not allowed), not an outage.
            Err(ClientError::Refused {
                status_code: Some(code),
                ..
            }) if code == OcpiStatus::UnknownToken.code() => Ok(RoamingVerdict {
                allowed: AllowedType::NotAllowed,
                authorization_reference: None,
            }),
            Err(e) => Err(Unreachable(e.to_string())),
        }
    }
}
