//! The second configuration stage: checks every raw value and builds the
//! typed settings the daemon uses.

use std::collections::HashMap;
use std::fmt;
use std::time::Duration;

use super::{ConfigError, RawConfig};
use crate::dispatch::retry::RetryPolicy;
use crate::message::Kind;

/// A delivery backend name from `[email] backend`, `[sms] backend`, ….
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Console,
}

/// A validated, quoted relation name such as `"outpost"."recipients"`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Relation {
    written: String,
    quoted: String,
}

impl Relation {
    /// Accepts `name` or `schema.name` made of letters, digits and underscores.
    pub fn parse(written: &str) -> Option<Self> {
        let parts: Vec<&str> = written.split('.').collect();
        let valid = |p: &str| {
            !p.is_empty()
                && p.len() <= 63
                && !p.starts_with(|c: char| c.is_ascii_digit())
                && p.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        };
        if parts.is_empty() || parts.len() > 2 || !parts.iter().all(|p| valid(p)) {
            return None;
        }
        let quoted = parts
            .iter()
            .map(|p| format!("\"{p}\""))
            .collect::<Vec<_>>()
            .join(".");
        Some(Self {
            written: written.to_owned(),
            quoted,
        })
    }

    /// The name safe to splice into SQL.
    pub fn quoted(&self) -> &str {
        &self.quoted
    }
}

impl fmt::Display for Relation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.written)
    }
}

/// Settings of the dispatcher, from `[dispatch]`.
#[derive(Debug, Clone)]
pub struct DispatchSettings {
    pub batch_size: u32,
    pub concurrency: usize,
    pub kind_concurrency: HashMap<Kind, usize>,
    pub lease: Duration,
    pub send_timeout: Duration,
    pub poll_interval: Duration,
    pub rescue_interval: Duration,
    pub shutdown_grace: Duration,
}

/// The validated configuration.
#[derive(Debug, Clone)]
pub struct Config {
    /// The values as loaded, for `config check`.
    pub raw: RawConfig,
    pub database_url: String,
    pub pool_size: usize,
    pub recipients: Relation,
    pub dispatch: DispatchSettings,
    pub retry: RetryPolicy,
    pub default_locale: String,
    pub email_from: String,
    pub backends: HashMap<Kind, Backend>,
}

fn positive(key: &str, value: Duration) -> Result<Duration, ConfigError> {
    if value.is_zero() {
        return Err(ConfigError::invalid(key, "must be longer than zero"));
    }
    Ok(value)
}

fn backend(key: &str, name: &str) -> Result<Backend, ConfigError> {
    match name.trim() {
        "console" => Ok(Backend::Console),
        other => Err(ConfigError::invalid(
            key,
            format!("unknown backend {other:?} (available: console)"),
        )),
    }
}

impl Config {
    pub fn validate(raw: RawConfig) -> Result<Self, ConfigError> {
        if raw.database.url.trim().is_empty() {
            return Err(ConfigError::invalid("database.url", "must not be empty"));
        }
        raw.database
            .url
            .parse::<tokio_postgres::Config>()
            .map_err(|e| {
                ConfigError::invalid("database.url", format!("not a PostgreSQL URL: {e}"))
            })?;
        if !(1..=256).contains(&raw.database.pool_size) {
            return Err(ConfigError::invalid(
                "database.pool_size",
                "must be between 1 and 256",
            ));
        }
        let recipients = Relation::parse(&raw.database.recipients).ok_or_else(|| {
            ConfigError::invalid(
                "database.recipients",
                "must be a relation name such as outpost.recipients (letters, digits, _)",
            )
        })?;

        let d = &raw.dispatch;
        if !(1..=10_000).contains(&d.batch_size) {
            return Err(ConfigError::invalid(
                "dispatch.batch_size",
                "must be between 1 and 10000",
            ));
        }
        if !(1..=100_000).contains(&d.concurrency) {
            return Err(ConfigError::invalid(
                "dispatch.concurrency",
                "must be between 1 and 100000",
            ));
        }
        let mut kind_concurrency = HashMap::new();
        for (name, limit) in &d.kind_concurrency {
            let key = format!("dispatch.kind_concurrency.{name}");
            let kind: Kind = name.parse().map_err(|e: crate::message::UnknownKind| {
                ConfigError::invalid(&key, e.to_string())
            })?;
            if *limit == 0 {
                return Err(ConfigError::invalid(&key, "must be at least 1"));
            }
            kind_concurrency.insert(kind, (*limit).min(d.concurrency));
        }
        for kind in Kind::ALL {
            kind_concurrency.entry(kind).or_insert(d.concurrency);
        }
        let dispatch = DispatchSettings {
            batch_size: d.batch_size,
            concurrency: d.concurrency,
            kind_concurrency,
            lease: positive("dispatch.lease", d.lease)?,
            send_timeout: positive("dispatch.send_timeout", d.send_timeout)?,
            poll_interval: positive("dispatch.poll_interval", d.poll_interval)?,
            rescue_interval: positive("dispatch.rescue_interval", d.rescue_interval)?,
            shutdown_grace: d.shutdown_grace,
        };
        if dispatch.lease <= dispatch.send_timeout {
            return Err(ConfigError::invalid(
                "dispatch.lease",
                format!(
                    "must be longer than dispatch.send_timeout ({}), or live sends would be rescued",
                    humantime::format_duration(dispatch.send_timeout)
                ),
            ));
        }

        let r = &raw.retry;
        let retry = RetryPolicy {
            base: positive("retry.base", r.base)?,
            cap: positive("retry.cap", r.cap)?,
            max_attempts: r.max_attempts,
        };
        if retry.cap < retry.base {
            return Err(ConfigError::invalid(
                "retry.cap",
                "must not be shorter than retry.base",
            ));
        }
        if !(1..=1000).contains(&r.max_attempts) {
            return Err(ConfigError::invalid(
                "retry.max_attempts",
                "must be between 1 and 1000",
            ));
        }

        if raw.locale.default.trim().is_empty() {
            return Err(ConfigError::invalid("locale.default", "must not be empty"));
        }
        if raw.email.from.trim().is_empty() {
            return Err(ConfigError::invalid("email.from", "must not be empty"));
        }
        let backends = HashMap::from([
            (Kind::Email, backend("email.backend", &raw.email.backend)?),
            (Kind::Sms, backend("sms.backend", &raw.sms.backend)?),
            (Kind::Voice, backend("voice.backend", &raw.voice.backend)?),
            (Kind::Push, backend("push.backend", &raw.push.backend)?),
            (Kind::Chat, backend("chat.backend", &raw.chat.backend)?),
        ]);
        if !matches!(raw.log.format.as_str(), "text" | "json") {
            return Err(ConfigError::invalid("log.format", "must be text or json"));
        }
        tracing_subscriber::EnvFilter::try_new(&raw.log.level)
            .map_err(|e| ConfigError::invalid("log.level", e.to_string()))?;

        Ok(Self {
            database_url: raw.database.url.clone(),
            pool_size: raw.database.pool_size,
            recipients,
            dispatch,
            retry,
            default_locale: raw.locale.default.trim().to_owned(),
            email_from: raw.email.from.clone(),
            backends,
            raw,
        })
    }
}
