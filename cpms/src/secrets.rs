//! Secrets: station passwords (argon2 hashes) and operator-API bearer tokens (HS256 JWTs).

use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use chrono::Utc;
use jsonwebtoken::{DecodingKey, EncodingKey, Header, Validation};
use rand::RngCore;
use sea_orm::{ActiveValue::Set, DatabaseConnection, DbErr, EntityTrait};
use serde::{Deserialize, Serialize};

use crate::entities::setting;

/// Hashes a station password for storage.
pub fn hash_password(password: &str) -> Result<String, argon2::password_hash::Error> {
    let salt = SaltString::generate(&mut OsRng);
    Ok(Argon2::default()
        .hash_password(password.as_bytes(), &salt)?
        .to_string())
}

/// Checks a password against a stored hash; a malformed hash never verifies.
pub fn verify_password(password: &str, hash: &str) -> bool {
    PasswordHash::new(hash)
        .map(|parsed| {
            Argon2::default()
                .verify_password(password.as_bytes(), &parsed)
                .is_ok()
        })
        .unwrap_or(false)
}

/// Claims of an operator-API token.
#[derive(Debug, Serialize, Deserialize)]
pub struct Claims {
    /// Who the token is for.
    pub sub: String,
    /// Issued at (seconds since the epoch).
    pub iat: i64,
    /// Expiry (seconds since the epoch).
    pub exp: i64,
}

/// Signs and checks operator-API tokens.
#[derive(Clone)]
pub struct TokenKeys {
    encoding: EncodingKey,
    decoding: DecodingKey,
}

impl TokenKeys {
    /// Keys for a shared secret.
    pub fn new(secret: &[u8]) -> Self {
        TokenKeys {
            encoding: EncodingKey::from_secret(secret),
            decoding: DecodingKey::from_secret(secret),
        }
    }

    /// A token for `subject`, valid for `ttl_days`.
    pub fn issue(
        &self,
        subject: &str,
        ttl_days: i64,
    ) -> Result<String, jsonwebtoken::errors::Error> {
        let now = Utc::now().timestamp();
        let claims = Claims {
            sub: subject.to_owned(),
            iat: now,
            exp: now + ttl_days * 86_400,
        };
        jsonwebtoken::encode(&Header::default(), &claims, &self.encoding)
    }

    /// Checks signature and expiry.
    pub fn verify(&self, token: &str) -> Result<Claims, jsonwebtoken::errors::Error> {
        jsonwebtoken::decode::<Claims>(token, &self.decoding, &Validation::default())
            .map(|data| data.claims)
    }
}

const JWT_SECRET_KEY: &str = "api.jwt_secret";

/// The configured JWT secret, or the one generated on first use and kept in the database, so the
/// server and `cpms admin-token` agree without configuration.
pub async fn jwt_secret(
    db: &DatabaseConnection,
    configured: Option<&str>,
) -> Result<Vec<u8>, DbErr> {
    if let Some(secret) = configured.filter(|s| !s.is_empty()) {
        return Ok(secret.as_bytes().to_vec());
    }
    if let Some(row) = setting::Entity::find_by_id(JWT_SECRET_KEY).one(db).await? {
        return Ok(row.value.into_bytes());
    }
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    let generated: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    // Two processes may race on first start: insert-or-ignore, then read back the winner.
    let _ = setting::Entity::insert(setting::ActiveModel {
        key: Set(JWT_SECRET_KEY.to_owned()),
        value: Set(generated),
    })
    .on_conflict(
        sea_orm::sea_query::OnConflict::column(setting::Column::Key)
            .do_nothing()
            .to_owned(),
    )
    .exec_without_returning(db)
    .await?;
    let row = setting::Entity::find_by_id(JWT_SECRET_KEY)
        .one(db)
        .await?
        .ok_or_else(|| DbErr::RecordNotFound(JWT_SECRET_KEY.into()))?;
    Ok(row.value.into_bytes())
}

const OCPI_TOKEN_KEY: &str = "ocpi.token_key";

/// Why the OCPI token key is unusable.
#[derive(Debug, thiserror::Error)]
pub enum TokenKeyError {
    /// The storage failed.
    #[error("database: {0}")]
    Db(#[from] DbErr),
    /// The configured or stored key is not 64 hex digits.
    #[error("ocpi.token_key must be 64 hex digits (32 bytes)")]
    Malformed,
}

/// The AES-256 key encrypting the partner tokens we store: the configured one, or one generated
/// on first use and kept in the `setting` table (like the JWT secret).
pub async fn ocpi_token_key(
    db: &DatabaseConnection,
    configured: Option<&str>,
) -> Result<[u8; 32], TokenKeyError> {
    if let Some(key) = configured.filter(|s| !s.is_empty()) {
        return parse_key(key);
    }
    if let Some(row) = setting::Entity::find_by_id(OCPI_TOKEN_KEY).one(db).await? {
        return parse_key(&row.value);
    }
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    let generated: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    // Insert-or-ignore, then read back the winner, as for the JWT secret.
    let _ = setting::Entity::insert(setting::ActiveModel {
        key: Set(OCPI_TOKEN_KEY.to_owned()),
        value: Set(generated),
    })
    .on_conflict(
        sea_orm::sea_query::OnConflict::column(setting::Column::Key)
            .do_nothing()
            .to_owned(),
    )
    .exec_without_returning(db)
    .await?;
    let row = setting::Entity::find_by_id(OCPI_TOKEN_KEY)
        .one(db)
        .await?
        .ok_or_else(|| DbErr::RecordNotFound(OCPI_TOKEN_KEY.into()))?;
    parse_key(&row.value)
}

fn parse_key(hex: &str) -> Result<[u8; 32], TokenKeyError> {
    let hex = hex.trim();
    if hex.len() != 64 || !hex.is_ascii() {
        return Err(TokenKeyError::Malformed);
    }
    let mut key = [0u8; 32];
    for (i, byte) in key.iter_mut().enumerate() {
        *byte =
            u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).map_err(|_| TokenKeyError::Malformed)?;
    }
    Ok(key)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_verify_only_against_their_hash() {
        let hash = hash_password("s3cret").unwrap();
        assert!(verify_password("s3cret", &hash));
        assert!(!verify_password("wrong", &hash));
        assert!(!verify_password("s3cret", "not a hash"));
    }

    #[test]
    fn token_keys_are_64_hex_digits() {
        let key = parse_key(&"0f".repeat(32)).unwrap();
        assert_eq!(key, [0x0f; 32]);
        assert!(parse_key("0f0f").is_err());
        assert!(parse_key(&"zz".repeat(32)).is_err());
    }

    #[test]
    fn tokens_verify_only_with_their_secret() {
        let keys = TokenKeys::new(b"one");
        let token = keys.issue("admin", 1).unwrap();
        assert_eq!(keys.verify(&token).unwrap().sub, "admin");
        assert!(TokenKeys::new(b"two").verify(&token).is_err());
        let expired = keys.issue("admin", -1).unwrap();
        assert!(keys.verify(&expired).is_err());
    }
}
