//! `[http]` and `[webhooks]`: the listener, its limits and timeouts, and
//! what authenticates inbound requests.

use super::super::formats::http_url;
use super::super::settings::{HttpSettings, WebhookSettings};
use super::super::{ConfigError, RawConfig};
use super::{listen, positive};

pub(in crate::config) fn http(raw: &RawConfig) -> Result<HttpSettings, ConfigError> {
    let h = &raw.http;
    let http = HttpSettings {
        enabled: h.enabled,
        listen: listen("http.listen", &h.listen, "127.0.0.1:8025")?,
        body_limit: h.body_limit,
        webhook_body_limit: h.webhook_body_limit,
        body_memory: h.body_memory,
        request_timeout: positive("http.request_timeout", h.request_timeout)?,
        header_timeout: positive("http.header_timeout", h.header_timeout)?,
        keep_alive_timeout: positive("http.keep_alive_timeout", h.keep_alive_timeout)?,
        max_connections: h.max_connections,
    };
    limits(&http)?;
    Ok(http)
}

/// `[webhooks]`, with Twilio's token and public URL (checked, `""` when unset).
pub(in crate::config) fn webhooks(
    raw: &RawConfig,
) -> Result<(WebhookSettings, String), ConfigError> {
    let w = &raw.webhooks;
    if w.inbound_username.is_empty() != w.inbound_password.is_empty() {
        return Err(ConfigError::invalid(
            "webhooks.inbound_username",
            "inbound_username and inbound_password must be set together",
        ));
    }
    let sendgrid_key = match w.sendgrid_public_key.trim() {
        "" => None,
        key => Some(
            crate::signature::SendGridKey::parse(key)
                .map_err(|e| ConfigError::invalid("webhooks.sendgrid_public_key", e.to_string()))?,
        ),
    };
    let public_url = match raw.twilio.public_url.trim() {
        "" => String::new(),
        url => http_url("twilio.public_url", url)?,
    };
    let webhooks = WebhookSettings {
        inbound: (!w.inbound_username.is_empty())
            .then(|| (w.inbound_username.clone(), w.inbound_password.clone())),
        sendgrid_key,
        sendgrid_max_age: positive("webhooks.sendgrid_max_age", w.sendgrid_max_age)?,
        twilio_auth_token: raw.twilio.auth_token.clone(),
        twilio_public_url: (!public_url.is_empty()).then(|| public_url.to_owned()),
    };
    Ok((webhooks, public_url))
}

/// Body limits and the connection bound of `[http]`.
fn limits(http: &HttpSettings) -> Result<(), ConfigError> {
    for (key, limit) in [
        ("http.body_limit", http.body_limit),
        ("http.webhook_body_limit", http.webhook_body_limit),
    ] {
        if limit < 1024 {
            return Err(ConfigError::invalid(key, "must be at least 1024 bytes"));
        }
        if limit > http.body_memory {
            return Err(ConfigError::invalid(
                key,
                "must not exceed http.body_memory (a body that large could never be read)",
            ));
        }
    }
    if http.body_memory > u32::MAX as usize {
        return Err(ConfigError::invalid(
            "http.body_memory",
            "must be at most 4294967295 bytes",
        ));
    }
    if http.max_connections == 0 {
        return Err(ConfigError::invalid(
            "http.max_connections",
            "must be at least 1",
        ));
    }
    Ok(())
}
