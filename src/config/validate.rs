//! The second configuration stage: checks every raw value and builds the
//! typed settings the daemon uses.

use std::collections::HashMap;
use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use super::sections::{self, backend, housekeeping, positive, smtp, twilio};
use super::{ConfigError, RawConfig};
use crate::dispatch::retry::RetryPolicy;
use crate::message::Kind;

/// A delivery backend name from `[email] backend`, `[sms] backend`, ….
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Console,
    Smtp,
    SmtpDb,
    SendGrid,
    Twilio,
    Airship,
    InApp,
}

/// An Airship app: the default one from `[push]`, or a row of `outpost.push_apps`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PushApp {
    pub name: String,
    pub app_key: String,
    pub master_secret: super::Secret,
    pub base_url: String,
}

/// The `[email.smtp]` server, checked.
#[derive(Debug, Clone)]
pub struct SmtpSettings {
    pub host: String,
    pub port: u16,
    pub username: String,
    pub password: super::Secret,
    pub use_tls: bool,
    pub use_ssl: bool,
    pub timeout: Duration,
    /// PEM of an extra trusted CA.
    pub ca_pem: Option<Vec<u8>>,
    pub pool_size: u32,
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
    /// When a provider's circuit opens, and for how long.
    pub breaker: BreakerSettings,
}

/// A provider's circuit opens when, among the calls of the last `window`
/// (at least `min_calls` of them), the share of transient failures reaches
/// `failure_rate`; it stays open for `open_for`, then one probe decides.
#[derive(Debug, Clone, Copy)]
pub struct BreakerSettings {
    /// 0 disables the breakers.
    pub min_calls: u32,
    pub failure_rate: f64,
    pub window: Duration,
    pub open_for: Duration,
}

/// The HTTP server, from `[http]`.
#[derive(Debug, Clone)]
pub struct HttpSettings {
    pub enabled: bool,
    pub listen: std::net::SocketAddr,
    pub body_limit: usize,
    /// Largest body of a signed provider callback (SendGrid events, Twilio).
    pub webhook_body_limit: usize,
    /// Most bytes all request bodies being read may hold together.
    pub body_memory: usize,
    pub request_timeout: Duration,
    /// Longest wait for a request's complete headers.
    pub header_timeout: Duration,
    /// Longest a connection may stay open with no request being handled.
    pub keep_alive_timeout: Duration,
    /// Most connections served at once; further ones wait in the backlog.
    pub max_connections: usize,
}

/// Credentials and keys that authenticate inbound requests.
#[derive(Debug, Clone)]
pub struct WebhookSettings {
    /// HTTP Basic user and password for `/inbound/sendgrid`.
    pub inbound: Option<(String, super::Secret)>,
    pub sendgrid_key: Option<crate::signature::SendGridKey>,
    pub sendgrid_max_age: Duration,
    pub twilio_auth_token: super::Secret,
    /// Outpost's public base URL as Twilio calls it, without a trailing slash.
    pub twilio_public_url: Option<String>,
}

/// A `<Say>` language and voice.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Voice {
    pub language: String,
    pub voice: String,
}

/// Twilio, from `[twilio]`.
#[derive(Debug, Clone)]
pub struct TwilioSettings {
    pub account_sid: String,
    pub auth_token: super::Secret,
    pub from: String,
    pub messaging_service_sid: Option<String>,
    pub base_url: String,
    pub public_url: Option<String>,
    pub default_region: Option<phonenumber::country::Id>,
    pub rate_limit: u32,
    pub max_segments: u32,
    pub voice_fallback: bool,
    pub voice_default_language: String,
    /// By normalised language (`ro`, `pt-br`).
    pub voices: HashMap<String, Voice>,
}

/// The validated configuration.
#[derive(Debug, Clone)]
pub struct Config {
    /// The values as loaded, for `config check`.
    pub raw: RawConfig,
    pub database_url: String,
    pub pool_size: usize,
    pub http: HttpSettings,
    /// The operator console, from `[console]`.
    pub console: crate::console::Settings,
    pub webhooks: WebhookSettings,
    pub twilio: TwilioSettings,
    /// The default push app, when `[push] app_key` is set.
    pub push_app: Option<PushApp>,
    pub push_device_types: Vec<String>,
    pub chat_mirror_email: bool,
    /// `None` when housekeeping is off.
    pub housekeeping: Option<crate::housekeeping::Settings>,
    pub recipients: Relation,
    pub dispatch: DispatchSettings,
    pub retry: RetryPolicy,
    pub default_locale: String,
    pub locale_dir: PathBuf,
    pub templates_dir: PathBuf,
    pub template_fuel: u64,
    pub email_from: String,
    /// Most recipients (to + cc + bcc) per e-mail.
    pub email_max_recipients: usize,
    /// The e-mail backend used while the default's circuit is open.
    pub email_fallback: Option<Backend>,
    pub smtp: SmtpSettings,
    pub sendgrid_api_key: super::Secret,
    pub sendgrid_base_url: String,
    pub backends: HashMap<Kind, Backend>,
}

impl Config {
    /// Where templates and catalogs are read from.
    pub fn template_source(&self) -> crate::render::Source {
        crate::render::Source {
            templates_dir: self.templates_dir.clone(),
            locale_dir: self.locale_dir.clone(),
            default_locale: self.default_locale.clone(),
            fuel: self.template_fuel,
        }
    }

    pub fn validate(raw: RawConfig) -> Result<Self, ConfigError> {
        if raw.database.url.trim().is_empty() {
            return Err(ConfigError::invalid("database.url", "must not be empty"));
        }
        crate::db::pg_config(&raw.database.url).map_err(|e| {
            // The message never includes the URL, so no password leaks.
            ConfigError::invalid("database.url", format!("not a usable PostgreSQL URL: {e}"))
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
            breaker: BreakerSettings {
                min_calls: d.breaker_min_calls,
                failure_rate: sections::rate(
                    "dispatch.breaker_failure_rate",
                    d.breaker_failure_rate,
                )?,
                window: positive("dispatch.breaker_window", d.breaker_window)?,
                open_for: positive("dispatch.breaker_open", d.breaker_open)?,
            },
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
        if raw.email.max_recipients == 0 {
            return Err(ConfigError::invalid(
                "email.max_recipients",
                "must be at least 1",
            ));
        }
        if raw.email.from.trim().is_empty() {
            return Err(ConfigError::invalid("email.from", "must not be empty"));
        }
        let backends = HashMap::from([
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
        ]);
        let smtp = smtp(&raw.email.smtp)?;
        let email_fallback = match raw.email.fallback.trim() {
            "" => None,
            name => Some(backend("email.fallback", name, Kind::Email)?),
        };
        if email_fallback.is_some() && email_fallback == backends.get(&Kind::Email).copied() {
            return Err(ConfigError::invalid(
                "email.fallback",
                "must differ from email.backend",
            ));
        }
        let sendgrid = &raw.email.sendgrid;
        let uses_sendgrid = backends[&Kind::Email] == Backend::SendGrid
            || email_fallback == Some(Backend::SendGrid);
        if uses_sendgrid && sendgrid.api_key.is_empty() {
            return Err(ConfigError::invalid(
                "email.sendgrid.api_key",
                "required when email.backend or email.fallback is sendgrid (or set SENDGRID_API_KEY)",
            ));
        }
        let base = sendgrid.base_url.trim().trim_end_matches('/');
        if !(base.starts_with("http://") || base.starts_with("https://")) {
            return Err(ConfigError::invalid(
                "email.sendgrid.base_url",
                "must be an http(s) URL",
            ));
        }
        let h = &raw.http;
        let http = HttpSettings {
            enabled: h.enabled,
            listen: h.listen.trim().parse().map_err(|e| {
                ConfigError::invalid(
                    "http.listen",
                    format!("not an address like 127.0.0.1:8025: {e}"),
                )
            })?,
            body_limit: h.body_limit,
            webhook_body_limit: h.webhook_body_limit,
            body_memory: h.body_memory,
            request_timeout: positive("http.request_timeout", h.request_timeout)?,
            header_timeout: positive("http.header_timeout", h.header_timeout)?,
            keep_alive_timeout: positive("http.keep_alive_timeout", h.keep_alive_timeout)?,
            max_connections: h.max_connections,
        };
        super::sections::http_limits(&http)?;
        let console = crate::console::Settings::validate(&raw.console, &http)?;
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
                    .map_err(|e| ConfigError::invalid("webhooks.sendgrid_public_key", e))?,
            ),
        };
        let public_url = raw.twilio.public_url.trim().trim_end_matches('/');
        if !(public_url.is_empty()
            || public_url.starts_with("https://")
            || public_url.starts_with("http://"))
        {
            return Err(ConfigError::invalid(
                "twilio.public_url",
                "must be an http(s) URL",
            ));
        }
        let webhooks = WebhookSettings {
            inbound: (!w.inbound_username.is_empty())
                .then(|| (w.inbound_username.clone(), w.inbound_password.clone())),
            sendgrid_key,
            sendgrid_max_age: positive("webhooks.sendgrid_max_age", w.sendgrid_max_age)?,
            twilio_auth_token: raw.twilio.auth_token.clone(),
            twilio_public_url: (!public_url.is_empty()).then(|| public_url.to_owned()),
        };
        let twilio = twilio(&raw.twilio, public_url)?;
        for kind in [Kind::Sms, Kind::Voice] {
            if backends[&kind] == Backend::Twilio
                && (twilio.account_sid.is_empty() || twilio.auth_token.is_empty())
            {
                return Err(ConfigError::invalid(
                    "twilio.account_sid",
                    format!(
                        "account_sid and auth_token are required when {kind}.backend is twilio \
                         (or set TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN)"
                    ),
                ));
            }
        }
        let p = &raw.push;
        let push_base = p.base_url.trim().trim_end_matches('/');
        if !(push_base.starts_with("http://") || push_base.starts_with("https://")) {
            return Err(ConfigError::invalid(
                "push.base_url",
                "must be an http(s) URL",
            ));
        }
        if p.app_key.trim().is_empty() != p.master_secret.is_empty() {
            return Err(ConfigError::invalid(
                "push.app_key",
                "app_key and master_secret must be set together",
            ));
        }
        if backends[&Kind::Push] == Backend::Airship && p.app_key.trim().is_empty() {
            return Err(ConfigError::invalid(
                "push.app_key",
                "required when push.backend is airship (or set URBANAIRSHIP_APP_KEY and URBANAIRSHIP_MASTER_SECRET)",
            ));
        }
        for t in &p.device_types {
            if !matches!(t.as_str(), "ios" | "android" | "web" | "amazon") {
                return Err(ConfigError::invalid(
                    "push.device_types",
                    format!("unknown device type {t:?}"),
                ));
            }
        }
        let push_app = (!p.app_key.trim().is_empty()).then(|| PushApp {
            name: "default".into(),
            app_key: p.app_key.trim().to_owned(),
            master_secret: p.master_secret.clone(),
            base_url: push_base.to_owned(),
        });
        let housekeeping = housekeeping(&raw.housekeeping)?;
        if raw.templates.fuel == 0 {
            return Err(ConfigError::invalid("templates.fuel", "must be at least 1"));
        }
        if !matches!(raw.log.format.as_str(), "text" | "json") {
            return Err(ConfigError::invalid("log.format", "must be text or json"));
        }
        tracing_subscriber::EnvFilter::try_new(&raw.log.level)
            .map_err(|e| ConfigError::invalid("log.level", e.to_string()))?;

        Ok(Self {
            database_url: raw.database.url.clone(),
            pool_size: raw.database.pool_size,
            http,
            console,
            webhooks,
            twilio,
            push_app,
            push_device_types: raw.push.device_types.clone(),
            chat_mirror_email: raw.chat.mirror_email,
            housekeeping,
            recipients,
            dispatch,
            retry,
            default_locale: raw.locale.default.trim().to_owned(),
            locale_dir: PathBuf::from(&raw.locale.dir),
            templates_dir: PathBuf::from(&raw.templates.dir),
            template_fuel: raw.templates.fuel,
            email_from: raw.email.from.clone(),
            email_max_recipients: raw.email.max_recipients,
            email_fallback,
            smtp,
            sendgrid_api_key: sendgrid.api_key.clone(),
            sendgrid_base_url: base.to_owned(),
            backends,
            raw,
        })
    }
}
