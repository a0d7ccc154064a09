//! Credentials tokens: making them, reading them from the `Authorization` header, hashing the ones
//! partners present to us, and encrypting the ones we present to them.

use aes_gcm::aead::{Aead, KeyInit};
use aes_gcm::{Aes256Gcm, Key, Nonce};
use axum::http::{header, HeaderMap};
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use rand::RngCore;
use sha2::{Digest, Sha256};

/// A new credentials token: 32 random bytes, URL-safe Base64 without padding (43 ASCII
/// characters, within the 64 the Credentials object allows).
pub fn new_token() -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

/// The stored form of a token a partner presents to us: hex SHA-256. Tokens are random and long,
/// so a plain hash is enough and lets the store look a token up by its hash.
pub fn token_hash(token: &str) -> String {
    Sha256::digest(token.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The `Authorization` value for a token we send: `Token <base64(token)>` (Transport and format:
/// Authorization header).
pub fn authorization_value(token: &str) -> String {
    format!("Token {}", STANDARD.encode(token.as_bytes()))
}

/// The tokens an `Authorization: Token ...` header may stand for, most likely first: the Base64
/// decoding the spec asks for, then the raw value, which many 2.1.1-era peers still send.
pub fn presented_tokens(headers: &HeaderMap) -> Vec<String> {
    let Some(value) = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
    else {
        return Vec::new();
    };
    let Some((scheme, token)) = value.trim().split_once(' ') else {
        return Vec::new();
    };
    let token = token.trim();
    if !scheme.eq_ignore_ascii_case("token") || token.is_empty() {
        return Vec::new();
    }
    let mut candidates = Vec::with_capacity(2);
    // Credentials: the token is printable ASCII, so a decoding that is not is no token.
    if let Some(decoded) = STANDARD
        .decode(token)
        .ok()
        .and_then(|b| String::from_utf8(b).ok())
        .filter(|s| !s.is_empty() && s.bytes().all(|b| b.is_ascii_graphic()))
    {
        candidates.push(decoded);
    }
    candidates.push(token.to_owned());
    candidates
}

/// Encrypts the tokens we present to partners, so a copy of the database alone does not let
/// anyone speak to them as us. AES-256-GCM with a random nonce per token.
#[derive(Clone)]
pub struct TokenCipher {
    cipher: Aes256Gcm,
}

/// A stored token that does not decrypt under our key.
#[derive(Debug, thiserror::Error)]
#[error("stored partner token does not decrypt (was ocpi.token_key changed?)")]
pub struct DecryptError;

impl TokenCipher {
    /// A cipher over a 32-byte key.
    pub fn new(key: &[u8; 32]) -> Self {
        TokenCipher {
            cipher: Aes256Gcm::new(&Key::<Aes256Gcm>::from(*key)),
        }
    }

    /// `base64(nonce || ciphertext)`.
    pub fn encrypt(&self, token: &str) -> String {
        let mut nonce = [0u8; 12];
        rand::rng().fill_bytes(&mut nonce);
        // Encryption with a valid key and an in-memory buffer cannot fail.
        let sealed = self
            .cipher
            .encrypt(&Nonce::from(nonce), token.as_bytes())
            .unwrap_or_default();
        let mut out = nonce.to_vec();
        out.extend(sealed);
        STANDARD.encode(out)
    }

    /// The token back.
    pub fn decrypt(&self, stored: &str) -> Result<String, DecryptError> {
        let bytes = STANDARD.decode(stored).map_err(|_| DecryptError)?;
        if bytes.len() < 12 {
            return Err(DecryptError);
        }
        let (nonce, sealed) = bytes.split_at(12);
        let nonce: [u8; 12] = nonce.try_into().map_err(|_| DecryptError)?;
        let plain = self
            .cipher
            .decrypt(&Nonce::from(nonce), sealed)
            .map_err(|_| DecryptError)?;
        String::from_utf8(plain).map_err(|_| DecryptError)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn headers(value: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(header::AUTHORIZATION, HeaderValue::from_str(value).unwrap());
        h
    }

    #[test]
    fn the_base64_form_and_the_raw_form_are_both_candidates() {
        let token = "abc-123";
        let sent = authorization_value(token);
        assert_eq!(sent, "Token YWJjLTEyMw==");
        assert_eq!(presented_tokens(&headers(&sent))[0], token);
        assert_eq!(presented_tokens(&headers("Token abc-123")), vec!["abc-123"]);
        assert_eq!(presented_tokens(&headers("token abc-123")), vec!["abc-123"]);
        assert!(presented_tokens(&headers("Bearer abc")).is_empty());
        assert!(presented_tokens(&headers("Token ")).is_empty());
        assert!(presented_tokens(&HeaderMap::new()).is_empty());
    }

    #[test]
    fn new_tokens_are_distinct_and_fit_the_credentials_object() {
        let (a, b) = (new_token(), new_token());
        assert_ne!(a, b);
        assert!(a.len() <= 64 && a.bytes().all(|c| c.is_ascii_graphic()));
        assert_eq!(token_hash(&a), token_hash(&a));
        assert_ne!(token_hash(&a), token_hash(&b));
    }

    #[test]
    fn tokens_decrypt_only_under_their_key() {
        let cipher = TokenCipher::new(&[7; 32]);
        let sealed = cipher.encrypt("their-token");
        assert_ne!(sealed, cipher.encrypt("their-token"), "nonces differ");
        assert_eq!(cipher.decrypt(&sealed).unwrap(), "their-token");
        assert!(TokenCipher::new(&[8; 32]).decrypt(&sealed).is_err());
        assert!(cipher.decrypt("not base64!").is_err());
    }
}
