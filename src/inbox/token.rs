//! Inbox tokens: `v<version>.<base64url user>.<expiry>.<base64url MAC>`, the
//! MAC HMAC-SHA256 over `outpost-inbox.` and the first three parts, under
//! the key of that version (minted in SQL by `outpost.inbox_token`, checked
//! here in constant time, with no database lookup).

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ring::hmac;

/// The signing keys by version. Their bytes are never printed.
#[derive(Clone, Default)]
pub struct Keys(Vec<(i32, hmac::Key)>);

impl fmt::Debug for Keys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let versions: Vec<i32> = self.0.iter().map(|(v, _)| *v).collect();
        f.debug_struct("Keys").field("versions", &versions).finish()
    }
}

/// Why a token was refused. Deliberately vague towards the caller.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InboxTokenError {
    #[error("malformed token")]
    Malformed,
    #[error("token signed with an unknown key version")]
    UnknownKey,
    #[error("bad token signature")]
    BadSignature,
    #[error("token expired")]
    Expired,
}

/// What a valid token says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Claims {
    pub user: String,
    /// Unix seconds.
    pub expires: i64,
}

/// The prefix of the signed text, so an inbox MAC means nothing elsewhere.
const DOMAIN: &str = "outpost-inbox.";

impl Keys {
    /// Keys from `(version, secret)` pairs as `outpost.inbox_keys` holds them.
    pub fn new(keys: impl IntoIterator<Item = (i32, Vec<u8>)>) -> Self {
        Self(
            keys.into_iter()
                .map(|(v, secret)| (v, hmac::Key::new(hmac::HMAC_SHA256, &secret)))
                .collect(),
        )
    }

    pub fn has(&self, version: i32) -> bool {
        self.0.iter().any(|(v, _)| *v == version)
    }

    /// The version `token` names, if it names one.
    pub fn version_of(token: &str) -> Option<i32> {
        token.split('.').next()?.strip_prefix('v')?.parse().ok()
    }

    /// What `token` says, when one of the keys signed it and it has not
    /// expired at `now` (Unix seconds).
    pub fn verify(&self, token: &str, now: i64) -> Result<Claims, InboxTokenError> {
        if token.len() > 4096 {
            return Err(InboxTokenError::Malformed);
        }
        let mut parts = token.rsplitn(2, '.');
        let (Some(mac), Some(signed)) = (parts.next(), parts.next()) else {
            return Err(InboxTokenError::Malformed);
        };
        let mut fields = signed.split('.');
        let (Some(_), Some(user), Some(expires), None) =
            (fields.next(), fields.next(), fields.next(), fields.next())
        else {
            return Err(InboxTokenError::Malformed);
        };
        let version = Self::version_of(token).ok_or(InboxTokenError::Malformed)?;
        let key = self
            .0
            .iter()
            .find(|(v, _)| *v == version)
            .map(|(_, k)| k)
            .ok_or(InboxTokenError::UnknownKey)?;
        let mac = URL_SAFE_NO_PAD
            .decode(mac)
            .map_err(|_| InboxTokenError::Malformed)?;
        let text = format!("{DOMAIN}{signed}");
        hmac::verify(key, text.as_bytes(), &mac).map_err(|_| InboxTokenError::BadSignature)?;
        let expires: i64 = expires.parse().map_err(|_| InboxTokenError::Malformed)?;
        if expires <= now {
            return Err(InboxTokenError::Expired);
        }
        let user = URL_SAFE_NO_PAD
            .decode(user)
            .ok()
            .and_then(|u| String::from_utf8(u).ok())
            .filter(|u| !u.is_empty())
            .ok_or(InboxTokenError::Malformed)?;
        Ok(Claims { user, expires })
    }

    /// A token as `outpost.inbox_token` makes it (for tests and the bench,
    /// which have no key of their own to mint with otherwise).
    pub fn sign(&self, user: &str, expires: i64) -> Option<String> {
        let (version, key) = self.0.iter().max_by_key(|(v, _)| *v)?;
        let signed = format!("v{version}.{}.{expires}", URL_SAFE_NO_PAD.encode(user));
        let mac = hmac::sign(key, format!("{DOMAIN}{signed}").as_bytes());
        Some(format!("{signed}.{}", URL_SAFE_NO_PAD.encode(mac.as_ref())))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys() -> Keys {
        Keys::new([(1, vec![7u8; 64]), (2, vec![9u8; 64])])
    }

    #[test]
    fn a_signed_token_verifies_until_it_expires() {
        let k = keys();
        let token = k.sign("42", 1_000).unwrap();
        assert!(token.starts_with("v2."));
        assert_eq!(
            k.verify(&token, 999),
            Ok(Claims {
                user: "42".into(),
                expires: 1_000
            })
        );
        assert_eq!(k.verify(&token, 1_000), Err(InboxTokenError::Expired));
    }

    #[test]
    fn tampering_and_unknown_keys_are_refused() {
        let k = keys();
        let token = k.sign("42", 1_000).unwrap();
        let other = k.sign("43", 1_000).unwrap();
        let forged = format!(
            "{}.{}",
            other.rsplit_once('.').unwrap().0,
            token.rsplit_once('.').unwrap().1
        );
        assert_eq!(k.verify(&forged, 0), Err(InboxTokenError::BadSignature));
        let later = token.replace(".1000.", ".9999.");
        assert_eq!(k.verify(&later, 0), Err(InboxTokenError::BadSignature));
        let only_old = Keys::new([(1, vec![7u8; 64])]);
        assert_eq!(only_old.verify(&token, 0), Err(InboxTokenError::UnknownKey));
        let old_token = only_old.sign("42", 1_000).unwrap();
        assert!(
            k.verify(&old_token, 0).is_ok(),
            "older versions still verify"
        );
        for bad in ["", "v1", "v1.a.b", "x1.a.1.b", "v1.a.1.b.c", "v1.!!.1.??"] {
            assert!(k.verify(bad, 0).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn keys_are_never_printed() {
        let shown = format!("{:?}", keys());
        assert_eq!(shown, "Keys { versions: [1, 2] }");
    }
}
