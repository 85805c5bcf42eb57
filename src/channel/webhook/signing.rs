//! Standard Webhooks signatures: `v1,` and the base64 HMAC-SHA256 of
//! `{webhook-id}.{webhook-timestamp}.{body}` under the endpoint's secret
//! (`whsec_` and the key in base64).

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD};
use ring::hmac;

/// The prefix of every secret.
pub const SECRET_PREFIX: &str = "whsec_";

/// A secret that is not `whsec_` and a base64 key. Its text never holds the
/// secret.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the endpoint's secret is not whsec_ followed by a base64 key")]
pub struct BadSecret;

/// An endpoint's signing key, decoded once.
pub struct SigningKey(hmac::Key);

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SigningKey([redacted])")
    }
}

impl SigningKey {
    /// The key of `secret` (`whsec_…`; the prefix may be left out, as the
    /// reference libraries allow, and the padding too).
    pub fn from_secret(secret: &str) -> Result<Self, BadSecret> {
        let encoded = secret.strip_prefix(SECRET_PREFIX).unwrap_or(secret).trim();
        let bytes = STANDARD
            .decode(encoded)
            .or_else(|_| STANDARD_NO_PAD.decode(encoded.trim_end_matches('=')))
            .map_err(|_| BadSecret)?;
        if bytes.is_empty() {
            return Err(BadSecret);
        }
        Ok(Self(hmac::Key::new(hmac::HMAC_SHA256, &bytes)))
    }

    /// The `webhook-signature` header's value for one request.
    pub fn sign(&self, webhook_id: &str, timestamp: i64, body: &str) -> String {
        let mut ctx = hmac::Context::with_key(&self.0);
        ctx.update(webhook_id.as_bytes());
        ctx.update(b".");
        ctx.update(timestamp.to_string().as_bytes());
        ctx.update(b".");
        ctx.update(body.as_bytes());
        format!("v1,{}", STANDARD.encode(ctx.sign().as_ref()))
    }
}

/// A new secret: `whsec_` and 32 random bytes in base64 (the console's, as
/// `outpost.webhook_secret()` makes them in SQL).
pub fn new_secret() -> String {
    let bytes: [u8; 32] = rand::random();
    format!("{SECRET_PREFIX}{}", STANDARD.encode(bytes))
}

/// What the console shows of a secret: its first characters only.
pub fn hint(secret: &str) -> String {
    let shown: String = secret.chars().take(SECRET_PREFIX.len() + 2).collect();
    format!("{shown}…")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The example of the Standard Webhooks specification and its reference
    /// libraries' tests (secret, id, timestamp, payload and signature).
    #[test]
    fn signs_the_specifications_example() {
        let key = SigningKey::from_secret("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap();
        let body = r#"{"test": 2432232314}"#;
        assert_eq!(
            key.sign("msg_p5jXN8AQM9LWM0D4loKWxJek", 1_614_265_330, body),
            "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
        );
    }

    #[test]
    fn the_prefix_and_padding_may_be_left_out_and_a_bad_secret_is_refused_without_showing_it() {
        let with = SigningKey::from_secret("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap();
        let without = SigningKey::from_secret("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap();
        assert_eq!(with.sign("a", 1, "b"), without.sign("a", 1, "b"));
        let e = SigningKey::from_secret("whsec_not base64!").unwrap_err();
        assert!(!e.to_string().contains("not base64!"), "{e}");
        assert!(SigningKey::from_secret("whsec_").is_err());
        assert_eq!(format!("{with:?}"), "SigningKey([redacted])");
    }

    #[test]
    fn new_secrets_decode_to_32_bytes_and_differ_and_the_hint_shows_a_prefix() {
        let (a, b) = (new_secret(), new_secret());
        assert_ne!(a, b);
        assert!(a.starts_with("whsec_"));
        assert!(SigningKey::from_secret(&a).is_ok());
        assert_eq!(STANDARD.decode(&a[6..]).unwrap().len(), 32);
        let shown = hint(&a);
        assert_eq!(shown.chars().count(), 9);
        assert!(a.starts_with(shown.trim_end_matches('…')));
    }
}
