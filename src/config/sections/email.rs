//! `[email]`: the backends of every kind, the e-mail fallback, the SMTP
//! server, SendGrid, the sender and the recipient cap.

use std::collections::HashMap;

use super::super::formats::http_url;
use super::super::settings::{Backend, SmtpSettings};
use super::super::{ConfigError, RawConfig};
use super::{backend, positive};
use crate::message::Kind;

/// The checked `[email]` values other than the backends.
pub(in crate::config) struct Email {
    pub from: String,
    pub max_recipients: usize,
    pub fallback: Option<Backend>,
    pub smtp: SmtpSettings,
    pub sendgrid_api_key: super::super::Secret,
    pub sendgrid_base_url: String,
}

/// The backend of each kind, from `[email]`, `[sms]`, `[voice]`, `[push]`, `[chat]`.
pub(in crate::config) fn backends(raw: &RawConfig) -> Result<HashMap<Kind, Backend>, ConfigError> {
    Ok(HashMap::from([
        (
            Kind::Email,
            backend("email.backend", &raw.email.backend, Kind::Email)?,
        ),
        (
            Kind::Sms,
            backend("sms.backend", &raw.sms.backend, Kind::Sms)?,
        ),
        (
            Kind::Voice,
            backend("voice.backend", &raw.voice.backend, Kind::Voice)?,
        ),
        (
            Kind::Push,
            backend("push.backend", &raw.push.backend, Kind::Push)?,
        ),
        (
            Kind::Chat,
            backend("chat.backend", &raw.chat.backend, Kind::Chat)?,
        ),
        // Webhooks have one backend, and no key to choose it.
        (Kind::Webhook, Backend::Webhook),
    ]))
}

pub(in crate::config) fn email(
    raw: &RawConfig,
    backends: &HashMap<Kind, Backend>,
) -> Result<Email, ConfigError> {
    if raw.email.max_recipients == 0 {
        return Err(ConfigError::invalid(
            "email.max_recipients",
            "must be at least 1",
        ));
    }
    super::super::formats::mailbox("email.from", &raw.email.from)?;
    let smtp = smtp(&raw.email.smtp)?;
    let fallback = match raw.email.fallback.trim() {
        "" => None,
        name => Some(backend("email.fallback", name, Kind::Email)?),
    };
    if fallback.is_some() && fallback == backends.get(&Kind::Email).copied() {
        return Err(ConfigError::invalid(
            "email.fallback",
            "must differ from email.backend",
        ));
    }
    let sendgrid = &raw.email.sendgrid;
    let uses_sendgrid =
        backends[&Kind::Email] == Backend::SendGrid || fallback == Some(Backend::SendGrid);
    if uses_sendgrid && sendgrid.api_key.is_empty() {
        return Err(ConfigError::invalid(
            "email.sendgrid.api_key",
            "required when email.backend or email.fallback is sendgrid (or set SENDGRID_API_KEY)",
        ));
    }
    let sendgrid_base_url = http_url("email.sendgrid.base_url", &sendgrid.base_url)?;
    Ok(Email {
        from: raw.email.from.clone(),
        max_recipients: raw.email.max_recipients,
        fallback,
        smtp,
        sendgrid_api_key: sendgrid.api_key.clone(),
        sendgrid_base_url,
    })
}

fn smtp(raw: &super::super::SmtpSection) -> Result<SmtpSettings, ConfigError> {
    if raw.use_tls && raw.use_ssl {
        return Err(ConfigError::invalid(
            "email.smtp.use_tls",
            "use_tls (STARTTLS) and use_ssl (implicit TLS) are mutually exclusive; set one of them \
             (EMAIL_USE_TLS/EMAIL_USE_SSL)",
        ));
    }
    if raw.host.trim().is_empty() {
        return Err(ConfigError::invalid("email.smtp.host", "must not be empty"));
    }
    if raw.port == 0 {
        return Err(ConfigError::invalid(
            "email.smtp.port",
            "must be between 1 and 65535",
        ));
    }
    if raw.username.is_empty() != raw.password.is_empty() {
        return Err(ConfigError::invalid(
            "email.smtp.username",
            "username and password must be set together",
        ));
    }
    let ca_pem = match raw.ca_file.trim() {
        "" => None,
        path => Some(std::fs::read(path).map_err(|e| {
            ConfigError::invalid("email.smtp.ca_file", format!("cannot read {path}: {e}"))
        })?),
    };
    Ok(SmtpSettings {
        host: raw.host.trim().to_owned(),
        port: raw.port,
        username: raw.username.clone(),
        password: raw.password.clone(),
        use_tls: raw.use_tls,
        use_ssl: raw.use_ssl,
        timeout: positive("email.smtp.timeout", raw.timeout)?,
        ca_pem,
        pool_size: raw.pool_size.max(1),
        idle_check: raw.idle_check,
    })
}
