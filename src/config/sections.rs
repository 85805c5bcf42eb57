//! Checks of the individual configuration sections: backends, SMTP, Twilio,
//! housekeeping, durations.

use std::collections::HashMap;
use std::time::Duration;

use super::ConfigError;
use super::validate::{Backend, SmtpSettings, TwilioSettings, Voice};
use crate::message::Kind;

pub(super) fn positive(key: &str, value: Duration) -> Result<Duration, ConfigError> {
    if value.is_zero() {
        return Err(ConfigError::invalid(key, "must be longer than zero"));
    }
    Ok(value)
}

/// A share between 0 (exclusive) and 1 (inclusive).
pub(super) fn rate(key: &str, value: f64) -> Result<f64, ConfigError> {
    if !(value > 0.0 && value <= 1.0) {
        return Err(ConfigError::invalid(
            key,
            format!("must be above 0 and at most 1, got {value}"),
        ));
    }
    Ok(value)
}

/// Body limits and the connection bound of `[http]`.
pub(super) fn http_limits(http: &super::HttpSettings) -> Result<(), ConfigError> {
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

pub(super) fn backend(key: &str, name: &str, kind: Kind) -> Result<Backend, ConfigError> {
    let available: &[(&str, Backend)] = match kind {
        Kind::Email => &[
            ("console", Backend::Console),
            ("smtp", Backend::Smtp),
            ("smtp_db", Backend::SmtpDb),
            ("sendgrid", Backend::SendGrid),
        ],
        Kind::Sms | Kind::Voice => &[("console", Backend::Console), ("twilio", Backend::Twilio)],
        Kind::Push => &[("console", Backend::Console), ("airship", Backend::Airship)],
        Kind::Chat => &[("console", Backend::Console), ("inapp", Backend::InApp)],
    };
    let name = name.trim();
    available
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, b)| *b)
        .ok_or_else(|| {
            let names: Vec<&str> = available.iter().map(|(n, _)| *n).collect();
            ConfigError::invalid(
                key,
                format!("unknown backend {name:?} (available: {})", names.join(", ")),
            )
        })
}

pub(super) fn smtp(raw: &super::SmtpSection) -> Result<SmtpSettings, ConfigError> {
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
    })
}

pub(super) fn housekeeping(
    raw: &super::HousekeepingSection,
) -> Result<Option<crate::housekeeping::Settings>, ConfigError> {
    use crate::housekeeping::{Job, Settings, Task};
    if !raw.enabled {
        return Ok(None);
    }
    if !(1..=100_000).contains(&raw.batch_size) {
        return Err(ConfigError::invalid(
            "housekeeping.batch_size",
            "must be between 1 and 100000",
        ));
    }
    let job = |name: &'static str, expression: &str, task: Task| {
        Job::new(name, expression, task)
            .map_err(|e| ConfigError::invalid(&format!("housekeeping.{name}"), e))
    };
    Ok(Some(Settings {
        retention: positive("housekeeping.retention", raw.retention)?,
        event_retention: positive("housekeeping.event_retention", raw.event_retention)?,
        inbound_retention: positive("housekeeping.inbound_retention", raw.inbound_retention)?,
        batch_size: raw.batch_size,
        jobs: vec![
            job("purge_messages", &raw.purge_messages, Task::PurgeMessages)?,
            job("purge_events", &raw.purge_events, Task::PurgeEvents)?,
            job("purge_inbound", &raw.purge_inbound, Task::PurgeInbound)?,
            job("expire", &raw.expire, Task::Expire)?,
            job("schedules", &raw.schedules, Task::Schedules)?,
        ],
    }))
}

pub(super) fn twilio(
    raw: &super::TwilioSection,
    public_url: &str,
) -> Result<TwilioSettings, ConfigError> {
    let base = raw.base_url.trim().trim_end_matches('/');
    if !(base.starts_with("http://") || base.starts_with("https://")) {
        return Err(ConfigError::invalid(
            "twilio.base_url",
            "must be an http(s) URL",
        ));
    }
    let default_region = match raw.default_region.trim() {
        "" => None,
        region => Some(region.to_ascii_uppercase().parse().map_err(|_| {
            ConfigError::invalid(
                "twilio.default_region",
                format!("unknown region {region:?} (use e.g. IE, GB, US)"),
            )
        })?),
    };
    if raw.max_segments == 0 {
        return Err(ConfigError::invalid(
            "twilio.max_segments",
            "must be at least 1",
        ));
    }
    let mut voices = HashMap::new();
    for (lang, v) in &raw.voices {
        let key = format!("twilio.voices.{lang}");
        if v.language.trim().is_empty() || v.voice.trim().is_empty() {
            return Err(ConfigError::invalid(&key, "needs both language and voice"));
        }
        voices.insert(
            crate::render::catalog::normalise(lang),
            Voice {
                language: v.language.trim().to_owned(),
                voice: v.voice.trim().to_owned(),
            },
        );
    }
    let default_language = crate::render::catalog::normalise(&raw.voice_default_language);
    if raw.voice_fallback && !voices.contains_key(&default_language) {
        return Err(ConfigError::invalid(
            "twilio.voice_default_language",
            format!("{default_language:?} has no entry in twilio.voices"),
        ));
    }
    Ok(TwilioSettings {
        account_sid: raw.account_sid.trim().to_owned(),
        auth_token: raw.auth_token.clone(),
        from: raw.from.trim().to_owned(),
        messaging_service_sid: Some(raw.messaging_service_sid.trim().to_owned())
            .filter(|s| !s.is_empty()),
        base_url: base.to_owned(),
        public_url: Some(public_url.to_owned()).filter(|s| !s.is_empty()),
        default_region,
        rate_limit: raw.rate_limit,
        max_segments: raw.max_segments,
        voice_fallback: raw.voice_fallback,
        voice_default_language: default_language,
        voices,
    })
}
