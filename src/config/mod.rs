//! Configuration in two stages: raw values from the embedded defaults, a TOML
//! file, `OUTPOST__SECTION__KEY` variables and `DATABASE_URL`, then a
//! validated [`Config`] whose errors name the offending key.

mod duration;
mod formats;
mod legacy;
mod redact;
mod secret;
mod sections;
mod settings;
mod sources;
mod validate;

pub use sources::Sources;

#[cfg(test)]
mod tests;

use std::collections::BTreeMap;
use std::time::Duration;

use serde::{Deserialize, Serialize};

pub use crate::db::Relation;
pub use legacy::BACKENDS as LEGACY_EMAIL_BACKENDS;
pub use redact::redact_url;
pub use secret::Secret;
pub use settings::{
    Backend, BreakerSettings, Config, ConsoleSettings, DispatchSettings, HousekeepingSettings,
    HttpSettings, InboxSettings, Job, LimitsSettings, LogFormat, LogSettings, NamedDatabase,
    OpsSettings, Pooler, PushApp, QuietHoursSettings, RetrySettings, SmtpSettings, Task,
    TwilioSettings, UnsubscribeKey, UnsubscribeSettings, Voice, WebhookEndpointsSettings,
    WebhookSettings,
};

/// The documented defaults, compiled in as the lowest layer.
pub const DEFAULTS: &str = include_str!("../../config/outpost.toml");

/// Why the configuration could not be loaded or is invalid.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read configuration: {0}")]
    Load(#[from] config::ConfigError),
    #[error("invalid configuration: {key}: {message}")]
    Invalid { key: String, message: String },
}

impl ConfigError {
    pub(crate) fn invalid(key: &str, message: impl Into<String>) -> Self {
        Self::Invalid {
            key: key.to_owned(),
            message: message.into(),
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawConfig {
    pub database: DatabaseSection,
    pub http: HttpSection,
    pub console: ConsoleSection,
    pub ops: OpsSection,
    pub webhooks: WebhooksSection,
    pub webhook_endpoints: WebhookEndpointsSection,
    pub twilio: TwilioSection,
    pub dispatch: DispatchSection,
    pub retry: RetrySection,
    pub templates: TemplatesSection,
    pub locale: LocaleSection,
    pub email: EmailSection,
    pub sms: BackendSection,
    pub voice: BackendSection,
    pub push: PushSection,
    pub chat: ChatSection,
    pub housekeeping: HousekeepingSection,
    pub unsubscribe: UnsubscribeSection,
    pub quiet_hours: QuietHoursSection,
    pub limits: LimitsSection,
    pub inbox: InboxSection,
    pub log: LogSection,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DatabaseSection {
    #[serde(serialize_with = "redact::serialize_url")]
    pub url: String,
    pub pool_size: usize,
    pub recipients: String,
    pub pooler: String,
    #[serde(serialize_with = "redact::serialize_url")]
    pub listen_url: String,
    #[serde(serialize_with = "redact::serialize_urls")]
    pub urls: Vec<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpSection {
    pub enabled: bool,
    pub listen: String,
    pub body_limit: usize,
    pub webhook_body_limit: usize,
    pub body_memory: usize,
    #[serde(with = "duration")]
    pub request_timeout: Duration,
    #[serde(with = "duration")]
    pub header_timeout: Duration,
    #[serde(with = "duration")]
    pub keep_alive_timeout: Duration,
    pub max_connections: usize,
}

/// `[console]`: the operator console (checked in `sections/console.rs`).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConsoleSection {
    pub enabled: bool,
    pub listen: String,
    #[serde(with = "duration")]
    pub session_idle: Duration,
    pub login_burst: u32,
    #[serde(with = "duration")]
    pub login_period: Duration,
    pub proxy_user_header: String,
    pub proxy_addresses: Vec<String>,
    #[serde(with = "duration")]
    pub statement_timeout: Duration,
    #[serde(with = "duration")]
    pub session_lifetime: Duration,
    pub login_address_burst: u32,
    pub login_max_entries: usize,
    pub login_concurrency: usize,
    pub secure_cookie: String,
    pub allowed_hosts: Vec<String>,
    #[serde(with = "duration")]
    pub header_timeout: Duration,
    #[serde(with = "duration")]
    pub keep_alive_timeout: Duration,
    pub max_connections: usize,
    pub pool_size: usize,
}

/// `[ops]`: the operations listener and the queue gauges' refresh (checked
/// in `sections/ops.rs`).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OpsSection {
    pub enabled: bool,
    pub listen: String,
    pub metrics_token: Secret,
    #[serde(with = "duration")]
    pub refresh_interval: Duration,
    pub max_connections: usize,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebhooksSection {
    pub inbound_username: String,
    pub inbound_password: Secret,
    pub sendgrid_public_key: String,
    #[serde(with = "duration")]
    pub sendgrid_max_age: Duration,
}

/// `[webhook_endpoints]`: the signed webhooks Outpost sends to applications.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebhookEndpointsSection {
    pub allow_private: bool,
    pub rate_limit: u32,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TwilioSection {
    pub account_sid: String,
    pub auth_token: Secret,
    pub public_url: String,
    pub from: String,
    pub messaging_service_sid: String,
    pub base_url: String,
    pub default_region: String,
    pub rate_limit: u32,
    pub max_segments: u32,
    pub voice_fallback: bool,
    pub voice_default_language: String,
    pub voices: BTreeMap<String, VoiceSection>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VoiceSection {
    pub language: String,
    pub voice: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DispatchSection {
    pub batch_size: u32,
    pub concurrency: usize,
    #[serde(with = "duration")]
    pub lease: Duration,
    #[serde(with = "duration")]
    pub send_timeout: Duration,
    #[serde(with = "duration")]
    pub poll_interval: Duration,
    #[serde(with = "duration")]
    pub rescue_interval: Duration,
    #[serde(with = "duration")]
    pub shutdown_grace: Duration,
    pub breaker_min_calls: u32,
    pub breaker_failure_rate: f64,
    #[serde(with = "duration")]
    pub breaker_window: Duration,
    #[serde(with = "duration")]
    pub breaker_open: Duration,
    pub kind_concurrency: BTreeMap<String, usize>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RetrySection {
    #[serde(with = "duration")]
    pub base: Duration,
    #[serde(with = "duration")]
    pub cap: Duration,
    pub max_attempts: i32,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TemplatesSection {
    pub dir: String,
    pub fuel: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LocaleSection {
    pub default: String,
    pub dir: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EmailSection {
    pub backend: String,
    pub fallback: String,
    pub from: String,
    pub max_recipients: usize,
    pub smtp: SmtpSection,
    pub sendgrid: SendGridSection,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SmtpSection {
    pub host: String,
    pub port: u16,
    pub username: String,
    pub password: Secret,
    pub use_tls: bool,
    pub use_ssl: bool,
    #[serde(with = "duration")]
    pub timeout: Duration,
    pub ca_file: String,
    pub pool_size: u32,
    #[serde(with = "duration")]
    pub idle_check: Duration,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SendGridSection {
    pub api_key: Secret,
    pub base_url: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BackendSection {
    pub backend: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PushSection {
    pub backend: String,
    pub app_key: String,
    pub master_secret: Secret,
    pub base_url: String,
    pub device_types: Vec<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChatSection {
    pub backend: String,
    pub mirror_email: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HousekeepingSection {
    pub enabled: bool,
    #[serde(with = "duration")]
    pub retention: Duration,
    #[serde(with = "duration")]
    pub event_retention: Duration,
    #[serde(with = "duration")]
    pub inbound_retention: Duration,
    pub batch_size: i64,
    pub purge_messages: String,
    pub purge_events: String,
    pub purge_inbound: String,
    pub expire: String,
    pub schedules: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UnsubscribeSection {
    pub public_url: String,
    pub mailto: String,
    pub secret: Secret,
    pub version: u32,
    pub previous_secret: Secret,
    pub previous_version: u32,
}

/// `[inbox]`: the real-time inbox on the HTTP listener (checked in
/// `sections/inbox.rs`).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InboxSection {
    pub enabled: bool,
    pub allowed_origins: Vec<String>,
    pub max_streams: usize,
    pub max_streams_per_user: usize,
    #[serde(with = "duration")]
    pub heartbeat: Duration,
    pub replay_limit: usize,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QuietHoursSection {
    pub default: String,
    pub kinds: Vec<String>,
    pub bypass_priority: i32,
    #[serde(default)]
    pub tenants: BTreeMap<String, String>,
}

/// `[limits]`: what a message may cost (checked in `sections/limits.rs`).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LimitsSection {
    pub phone_prefixes: Vec<String>,
    pub phone_per_hour: u32,
    /// Per tenant, per kind: most messages a UTC day (`[limits.daily.NAME]`).
    #[serde(default)]
    pub daily: BTreeMap<String, BTreeMap<String, u32>>,
    /// Per tenant, per kind: most messages a second (`[limits.rate.NAME]`).
    #[serde(default)]
    pub rate: BTreeMap<String, BTreeMap<String, f64>>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogSection {
    pub level: String,
    pub format: String,
}
