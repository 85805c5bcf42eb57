//! One-click unsubscribe (RFC 8058): a token naming who (a user, or an
//! address when there is no user), the category and the kind, signed with
//! HMAC-SHA256 under a versioned key so the secret can be rotated, and
//! verified without a database lookup; and the `List-Unsubscribe` headers
//! that carry it.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ring::hmac;
use serde::{Deserialize, Serialize};

pub use crate::config::{UnsubscribeKey as Key, UnsubscribeSettings as Settings};
use crate::message::Kind;

/// Who asked to stop receiving a category.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Who {
    #[serde(rename = "u")]
    User(String),
    #[serde(rename = "a")]
    Address(String),
}

/// What a token says: who, which category, which kind.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Target {
    #[serde(rename = "w")]
    pub who: Who,
    #[serde(rename = "c")]
    pub category: String,
    #[serde(rename = "k")]
    pub kind: Kind,
    /// The database the message came from, when the daemon serves several
    /// (signed with the rest, so a link acts only where it was sent from).
    #[serde(rename = "d", default, skip_serializing_if = "Option::is_none")]
    pub database: Option<String>,
}

/// Why a token was refused. Deliberately vague towards the caller.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    #[error("malformed token")]
    Malformed,
    #[error("token signed with an unknown key version")]
    UnknownKey,
    #[error("bad token signature")]
    BadSignature,
}

fn tag(key: &Key, version: u32, payload: &str) -> hmac::Tag {
    let k = hmac::Key::new(hmac::HMAC_SHA256, key.secret.expose().as_bytes());
    hmac::sign(&k, signed_text(version, payload).as_bytes())
}

fn signed_text(version: u32, payload: &str) -> String {
    format!("outpost-unsubscribe.v{version}.{payload}")
}

// The settings live with the rest of the configuration (config::settings);
// what they do lives here.
impl Settings {
    /// The token for `target`, signed with the current key: `vN.PAYLOAD.MAC`.
    pub fn sign(&self, target: &Target) -> String {
        let json = serde_json::to_vec(target).unwrap_or_default();
        let payload = URL_SAFE_NO_PAD.encode(json);
        let mac = tag(&self.current, self.current.version, &payload);
        format!(
            "v{}.{payload}.{}",
            self.current.version,
            URL_SAFE_NO_PAD.encode(mac.as_ref())
        )
    }

    /// What `token` says, when one of the keys signed it.
    pub fn verify(&self, token: &str) -> Result<Target, TokenError> {
        let mut parts = token.split('.');
        let (Some(version), Some(payload), Some(mac), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(TokenError::Malformed);
        };
        let version: u32 = version
            .strip_prefix('v')
            .and_then(|v| v.parse().ok())
            .ok_or(TokenError::Malformed)?;
        let key = [Some(&self.current), self.previous.as_ref()]
            .into_iter()
            .flatten()
            .find(|k| k.version == version)
            .ok_or(TokenError::UnknownKey)?;
        let mac = URL_SAFE_NO_PAD
            .decode(mac)
            .map_err(|_| TokenError::Malformed)?;
        let k = hmac::Key::new(hmac::HMAC_SHA256, key.secret.expose().as_bytes());
        hmac::verify(&k, signed_text(version, payload).as_bytes(), &mac)
            .map_err(|_| TokenError::BadSignature)?;
        let json = URL_SAFE_NO_PAD
            .decode(payload)
            .map_err(|_| TokenError::Malformed)?;
        serde_json::from_slice(&json).map_err(|_| TokenError::Malformed)
    }

    /// The one-click URL for `target`.
    pub fn url(&self, target: &Target) -> String {
        format!("{}/unsubscribe/{}", self.public_url, self.sign(target))
    }

    /// `List-Unsubscribe` and `List-Unsubscribe-Post` for `target` (RFC 8058).
    pub fn headers(&self, target: &Target) -> [(String, String); 2] {
        let token = self.sign(target);
        let mut list = format!("<{}/unsubscribe/{token}>", self.public_url);
        if let Some(mailto) = &self.mailto {
            list.push_str(&format!(
                ", <mailto:{mailto}?subject=unsubscribe%20{token}>"
            ));
        }
        [
            ("List-Unsubscribe".to_owned(), list),
            (
                "List-Unsubscribe-Post".to_owned(),
                "List-Unsubscribe=One-Click".to_owned(),
            ),
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Secret;

    fn settings(version: u32, secret: &str) -> Settings {
        Settings {
            public_url: "https://n.example.com".into(),
            mailto: None,
            current: Key {
                version,
                secret: Secret::new(secret),
            },
            previous: None,
        }
    }

    fn target() -> Target {
        Target {
            who: Who::User("42".into()),
            category: "news".into(),
            kind: Kind::Email,
            database: None,
        }
    }

    #[test]
    fn a_signed_token_verifies_and_says_what_it_was_given() {
        let s = settings(1, "s3cret");
        let token = s.sign(&target());
        assert!(token.starts_with("v1."));
        assert_eq!(s.verify(&token), Ok(target()));
    }

    #[test]
    fn tampering_is_refused() {
        let s = settings(1, "s3cret");
        let token = s.sign(&target());
        let other = Target {
            who: Who::User("43".into()),
            ..target()
        };
        let forged_payload = s.sign(&other).split('.').nth(1).unwrap().to_owned();
        let parts: Vec<&str> = token.split('.').collect();
        let forged = format!("{}.{}.{}", parts[0], forged_payload, parts[2]);
        assert_eq!(s.verify(&forged), Err(TokenError::BadSignature));
        assert_eq!(
            settings(1, "other").verify(&token),
            Err(TokenError::BadSignature)
        );
        for bad in ["", "v1", "v1.a", "x1.a.b", "v1.a.b.c", "v1.!!.??"] {
            assert!(s.verify(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn rotation_keeps_old_tokens_valid_until_the_old_key_goes() {
        let old = settings(1, "old");
        let token = old.sign(&target());
        let mut rotated = settings(2, "new");
        assert_eq!(rotated.verify(&token), Err(TokenError::UnknownKey));
        rotated.previous = Some(old.current.clone());
        assert_eq!(rotated.verify(&token), Ok(target()));
        assert!(rotated.sign(&target()).starts_with("v2."));
    }

    #[test]
    fn headers_carry_the_url_and_the_mailto_form() {
        let mut s = settings(1, "k");
        s.mailto = Some("unsubscribe@example.com".into());
        let [(name, list), post] = s.headers(&target());
        assert_eq!(name, "List-Unsubscribe");
        let token = s.sign(&target());
        assert_eq!(
            list,
            format!(
                "<https://n.example.com/unsubscribe/{token}>, \
                 <mailto:unsubscribe@example.com?subject=unsubscribe%20{token}>"
            )
        );
        assert_eq!(
            post,
            (
                "List-Unsubscribe-Post".into(),
                "List-Unsubscribe=One-Click".into()
            )
        );
    }
}
