//! Tokens module, CPO Receiver interface (OCPI 2.2.1 Tokens: Receiver interface):
//! `GET`, `PUT` and `PATCH /ocpi/2.2.1/tokens/{country_code}/{party_id}/{uid}[?type=...]`.
//! Only the registered partner owning the path's party may read or write there; tokens are kept
//! per partner through the [`TokenStore`] port.

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use serde::Deserialize;
use serde_json::Value;

use crate::port::tokens::{Token, TokenStore, TokenType};
use crate::port::Partner;
use crate::transport::{OcpiError, OcpiResponse, OcpiStatus};
use crate::Bridge;

/// The `?type=` query; RFID when absent (Tokens: Receiver interface).
#[derive(Debug, Deserialize)]
pub struct TypeQuery {
    #[serde(rename = "type")]
    token_type: Option<String>,
}

/// The path's token and its owner, checked against the calling partner.
struct Target {
    partner: Partner,
    country_code: String,
    party_id: String,
    uid: String,
    token_type: TokenType,
}

async fn target<'b>(
    bridge: &'b Bridge,
    headers: &HeaderMap,
    (country_code, party_id, uid): (String, String, String),
    query: TypeQuery,
) -> Result<(Target, &'b dyn TokenStore), OcpiError> {
    let partner = bridge.authenticate_registered(headers).await?;
    let store = bridge.token_store()?;
    // Only the party that owns a token may push it (Tokens: Receiver interface: the path
    // carries the owner's country_code and party_id).
    let owns = partner.roles.iter().any(|r| {
        r.country_code.eq_ignore_ascii_case(&country_code)
            && r.party_id.eq_ignore_ascii_case(&party_id)
    });
    if !owns {
        return Err(OcpiError::new(
            OcpiStatus::ClientError,
            "the path names a party this partner does not represent",
        )
        .with_http(StatusCode::FORBIDDEN));
    }
    let token_type = match query.token_type.as_deref() {
        None => TokenType::Rfid,
        Some(t) => TokenType::parse(t)
            .ok_or_else(|| OcpiError::bad_request(format!("unknown token type {t}")))?,
    };
    if uid.is_empty() || uid.len() > 36 {
        return Err(OcpiError::bad_request("uid must be 1 to 36 characters"));
    }
    Ok((
        Target {
            partner,
            country_code: country_code.to_ascii_uppercase(),
            party_id: party_id.to_ascii_uppercase(),
            uid,
            token_type,
        },
        store,
    ))
}

fn internal(e: impl std::fmt::Display) -> OcpiError {
    OcpiError::internal(e.to_string())
}

/// A token that parses, validates and is the one the path names (2001 otherwise).
fn checked(token: Token, target: &Target) -> Result<Token, OcpiError> {
    token.validate().map_err(OcpiError::bad_request)?;
    if !token
        .country_code
        .eq_ignore_ascii_case(&target.country_code)
        || !token.party_id.eq_ignore_ascii_case(&target.party_id)
        || token.uid != target.uid
        || token.token_type != target.token_type
    {
        return Err(OcpiError::bad_request(
            "the token's country_code, party_id, uid and type must match the URL",
        ));
    }
    Ok(Token {
        country_code: target.country_code.clone(),
        party_id: target.party_id.clone(),
        ..token
    })
}

async fn stored(store: &dyn TokenStore, t: &Target) -> Result<Option<Token>, OcpiError> {
    store
        .token(
            t.partner.id,
            &t.country_code,
            &t.party_id,
            &t.uid,
            t.token_type,
        )
        .await
        .map_err(internal)
}

/// `GET`: the token as we store it; 2004 with HTTP 404 when unknown.
pub async fn get(
    State(bridge): State<Bridge>,
    headers: HeaderMap,
    path: Path<(String, String, String)>,
    Query(query): Query<TypeQuery>,
) -> Result<OcpiResponse, OcpiError> {
    let (t, store) = target(&bridge, &headers, path.0, query).await?;
    match stored(store, &t).await? {
        Some(token) => OcpiResponse::ok(token),
        None => Err(unknown()),
    }
}

fn unknown() -> OcpiError {
    OcpiError::new(OcpiStatus::UnknownToken, "unknown token").with_http(StatusCode::NOT_FOUND)
}

/// `PUT`: create or replace the whole token.
pub async fn put(
    State(bridge): State<Bridge>,
    headers: HeaderMap,
    path: Path<(String, String, String)>,
    Query(query): Query<TypeQuery>,
    body: Bytes,
) -> Result<OcpiResponse, OcpiError> {
    let (t, store) = target(&bridge, &headers, path.0, query).await?;
    let token: Token = serde_json::from_slice(&body)
        .map_err(|e| OcpiError::bad_request(format!("not a Token object: {e}")))?;
    let token = checked(token, &t)?;
    store
        .put_token(t.partner.id, token)
        .await
        .map_err(internal)?;
    OcpiResponse::ok(Value::Null)
}

/// `PATCH`: change the fields sent; `last_updated` is required (Transport and format: Client
/// Owned Object Push, PATCH).
pub async fn patch(
    State(bridge): State<Bridge>,
    headers: HeaderMap,
    path: Path<(String, String, String)>,
    Query(query): Query<TypeQuery>,
    body: Bytes,
) -> Result<OcpiResponse, OcpiError> {
    let (t, store) = target(&bridge, &headers, path.0, query).await?;
    let changes: serde_json::Map<String, Value> = serde_json::from_slice(&body)
        .map_err(|e| OcpiError::bad_request(format!("not a JSON object: {e}")))?;
    if !changes.contains_key("last_updated") {
        return Err(OcpiError::bad_request("a PATCH must carry last_updated"));
    }
    let existing = stored(store, &t).await?.ok_or_else(unknown)?;
    let mut merged = serde_json::to_value(existing).map_err(internal)?;
    if let Value::Object(fields) = &mut merged {
        for (k, v) in changes {
            if v.is_null() {
                fields.remove(&k);
            } else {
                fields.insert(k, v);
            }
        }
    }
    let token: Token = serde_json::from_value(merged)
        .map_err(|e| OcpiError::bad_request(format!("not a valid Token after the PATCH: {e}")))?;
    let token = checked(token, &t)?;
    store
        .put_token(t.partner.id, token)
        .await
        .map_err(internal)?;
    OcpiResponse::ok(Value::Null)
}
