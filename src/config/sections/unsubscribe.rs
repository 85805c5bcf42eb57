//! `[unsubscribe]`: the public base URL of the one-click links, the optional
//! mailto address and the versioned signing keys.

use super::super::formats::{http_url, mailbox};
use super::super::settings::{UnsubscribeKey, UnsubscribeSettings};
use super::super::{ConfigError, UnsubscribeSection};

/// Shorter secrets are refused: the key guards every recipient's preferences.
const MIN_SECRET: usize = 32;

/// `None` while `public_url` and `secret` are unset; both or neither.
pub(in crate::config) fn unsubscribe(
    u: &UnsubscribeSection,
) -> Result<Option<UnsubscribeSettings>, ConfigError> {
    if u.public_url.trim().is_empty() != u.secret.is_empty() {
        return Err(ConfigError::invalid(
            "unsubscribe.public_url",
            "public_url and secret must be set together",
        ));
    }
    if u.public_url.trim().is_empty() {
        return Ok(None);
    }
    let public_url = http_url("unsubscribe.public_url", &u.public_url)?;
    let key = |name: &str, version: u32, secret: &crate::config::Secret| {
        if secret.expose().chars().count() < MIN_SECRET {
            return Err(ConfigError::invalid(
                name,
                format!("must be at least {MIN_SECRET} characters"),
            ));
        }
        Ok(UnsubscribeKey {
            version,
            secret: secret.clone(),
        })
    };
    let current = key("unsubscribe.secret", u.version, &u.secret)?;
    let previous = if u.previous_secret.is_empty() {
        None
    } else {
        if u.previous_version == u.version {
            return Err(ConfigError::invalid(
                "unsubscribe.previous_version",
                "must differ from unsubscribe.version",
            ));
        }
        Some(key(
            "unsubscribe.previous_secret",
            u.previous_version,
            &u.previous_secret,
        )?)
    };
    let mailto = match u.mailto.trim() {
        "" => None,
        address => {
            mailbox("unsubscribe.mailto", address)?;
            if address.contains(['<', '>', '?', ' ']) {
                return Err(ConfigError::invalid(
                    "unsubscribe.mailto",
                    "must be a bare address like unsubscribe@example.com",
                ));
            }
            Some(address.to_owned())
        }
    };
    Ok(Some(UnsubscribeSettings {
        public_url,
        mailto,
        current,
        previous,
    }))
}
