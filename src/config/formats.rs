//! Values that must be an e-mail address, an E.164 sender number or an
//! http(s) URL, checked with the same parsers the senders use, so that
//! `config check` refuses what every message would fail on.

use std::str::FromStr;

use super::ConfigError;

/// A mailbox such as `Outpost <noreply@example.com>` (lettre's parser, as the composer).
pub(super) fn mailbox(key: &str, text: &str) -> Result<(), ConfigError> {
    if text.contains(['\r', '\n']) {
        return Err(ConfigError::invalid(key, "contains a line break"));
    }
    lettre::message::Mailbox::from_str(text.trim())
        .map(|_| ())
        .map_err(|e| {
            ConfigError::invalid(
                key,
                format!("not an e-mail address like \"Name <noreply@example.com>\": {e}"),
            )
        })
}

/// A sender number Twilio accepts: what the Twilio channel would send as `From`.
pub(super) fn sender_number(
    key: &str,
    text: &str,
    region: Option<phonenumber::country::Id>,
) -> Result<(), ConfigError> {
    crate::phone::e164(text, region)
        .map(|_| ())
        .map_err(|e| ConfigError::invalid(key, e.to_string()))
}

/// An absolute http(s) URL with a host; returned trimmed, without a trailing slash.
pub(super) fn http_url(key: &str, text: &str) -> Result<String, ConfigError> {
    let trimmed = text.trim().trim_end_matches('/');
    let url = reqwest::Url::parse(trimmed)
        .map_err(|e| ConfigError::invalid(key, format!("not a URL: {e}")))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(ConfigError::invalid(key, "must be an http(s) URL"));
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(ConfigError::invalid(key, "must name a host"));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(ConfigError::invalid(
            key,
            "must be a base URL without ?query or #fragment",
        ));
    }
    Ok(trimmed.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key_of(r: Result<impl std::fmt::Debug, ConfigError>) -> String {
        match r.unwrap_err() {
            ConfigError::Invalid { key, .. } => key,
            other => panic!("{other}"),
        }
    }

    #[test]
    fn addresses_numbers_and_urls() {
        mailbox("email.from", "Outpost <noreply@localhost>").unwrap();
        mailbox("email.from", "noreply@example.com").unwrap();
        for bad in ["123", "", "Outpost", "a@b\r\nBcc: x@y", "<@>"] {
            assert_eq!(key_of(mailbox("email.from", bad)), "email.from", "{bad:?}");
        }
        sender_number("twilio.from", "+15005550006", None).unwrap();
        sender_number("twilio.from", "+353861234567", None).unwrap();
        for bad in ["15005550006", "123", "+1", "nan", "+11234567890"] {
            assert_eq!(
                key_of(sender_number("twilio.from", bad, None)),
                "twilio.from"
            );
        }
        assert_eq!(
            http_url("k", " https://api.twilio.com/ ").unwrap(),
            "https://api.twilio.com"
        );
        assert_eq!(
            http_url("k", "http://127.0.0.1:8080/base").unwrap(),
            "http://127.0.0.1:8080/base"
        );
        for bad in [
            "api.twilio.com",
            "ftp://x",
            "https://",
            "https://h/?a=1",
            "1e3",
        ] {
            assert_eq!(
                key_of(http_url("twilio.base_url", bad)),
                "twilio.base_url",
                "{bad:?}"
            );
        }
    }
}
