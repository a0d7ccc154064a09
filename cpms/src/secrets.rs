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
    fn tokens_verify_only_with_their_secret() {
        let keys = TokenKeys::new(b"one");
        let token = keys.issue("admin", 1).unwrap();
        assert_eq!(keys.verify(&token).unwrap().sub, "admin");
        assert!(TokenKeys::new(b"two").verify(&token).is_err());
        let expired = keys.issue("admin", -1).unwrap();
        assert!(keys.verify(&expired).is_err());
    }
}
