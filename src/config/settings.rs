//! The validated configuration's types: what the rest of Outpost reads.
//! They depend on nothing of Outpost's but message kinds, database relation
//! names and key types, so every module can use them.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

use super::{RawConfig, Secret};
use crate::db::Relation;
use crate::message::Kind;
pub use crate::quiet_hours::QuietHoursSettings;

/// A delivery backend name from `[email] backend`, `[sms] backend`, ….
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// Prints instead of sending (configured as `console`, like Django's
    /// console e-mail backend).
    Stdout,
    Smtp,
    SmtpDb,
    SendGrid,
    Twilio,
    Airship,
    InApp,
    /// The signed HTTP POST of `webhook` messages (the kind's only backend).
    Webhook,
}

/// An Airship app: the default one from `[push]`, or a row of `outpost.push_apps`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PushApp {
    pub name: String,
    pub app_key: String,
    pub master_secret: Secret,
    pub base_url: String,
}

/// The `[email.smtp]` server, checked.
#[derive(Debug, Clone)]
pub struct SmtpSettings {
    pub host: String,
    pub port: u16,
    pub username: String,
    pub password: Secret,
    pub use_tls: bool,
    pub use_ssl: bool,
    pub timeout: Duration,
    /// PEM of an extra trusted CA.
    pub ca_pem: Option<Vec<u8>>,
    pub pool_size: u32,
    /// A pooled connection idle longer than this is checked before reuse.
    pub idle_check: Duration,
}

/// What `database.url` reaches, from `[database] pooler`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pooler {
    /// PostgreSQL itself: statements stay prepared per connection, session
    /// settings are sent at connect, LISTEN uses the same URL.
    None,
    /// A transaction pooler (PgBouncer's `pool_mode = transaction`): nothing
    /// of a session survives a transaction (see `db::pooled`).
    Transaction,
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
    pub inbound: Option<(String, Secret)>,
    pub sendgrid_key: Option<crate::signature::SendGridKey>,
    pub sendgrid_max_age: Duration,
    pub twilio_auth_token: Secret,
    /// Outpost's public base URL as Twilio calls it, without a trailing slash.
    pub twilio_public_url: Option<String>,
}

/// The signed webhooks to applications, from `[webhook_endpoints]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WebhookEndpointsSettings {
    /// Whether an endpoint may resolve to a loopback, private or link-local address.
    pub allow_private: bool,
    /// Most requests a second to one endpoint from one daemon; 0: no limit.
    pub rate_limit: u32,
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
    pub auth_token: Secret,
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

/// One database the daemon serves, named by its database name.
#[derive(Clone, PartialEq, Eq)]
pub struct NamedDatabase {
    pub name: String,
    pub url: String,
}

impl Config {
    /// This configuration serving `database` alone (the daemon runs one
    /// dispatcher per database with it).
    pub fn for_database(&self, database: &NamedDatabase) -> Config {
        let mut one = self.clone();
        one.database_url = database.url.clone();
        one.databases = vec![database.clone()];
        one
    }
}

/// The name only: the URL may hold a password.
impl std::fmt::Debug for NamedDatabase {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NamedDatabase")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

/// The validated configuration.
#[derive(Debug, Clone)]
pub struct Config {
    /// The values as loaded, for `config check`.
    pub raw: RawConfig,
    /// The database of the one-database commands, and of the daemon when
    /// `databases` is `url` alone.
    pub database_url: String,
    /// What `outpost run` serves and `outpost migrate` migrates:
    /// `[database] urls`, or `url` alone.
    pub databases: Vec<NamedDatabase>,
    pub pool_size: usize,
    /// What `database_url` reaches: PostgreSQL or a transaction pooler.
    pub pooler: Pooler,
    /// `[database] listen_url`: a direct connection past the pooler, when set.
    pub listen_url: Option<String>,
    pub http: HttpSettings,
    /// The operator console, from `[console]`.
    pub console: ConsoleSettings,
    /// The operations listener and the queue gauges, from `[ops]`.
    pub ops: OpsSettings,
    pub webhooks: WebhookSettings,
    pub webhook_endpoints: WebhookEndpointsSettings,
    pub twilio: TwilioSettings,
    /// The default push app, when `[push] app_key` is set.
    pub push_app: Option<PushApp>,
    pub push_device_types: Vec<String>,
    pub chat_mirror_email: bool,
    /// `None` when housekeeping is off.
    pub housekeeping: Option<HousekeepingSettings>,
    pub recipients: Relation,
    pub dispatch: DispatchSettings,
    pub retry: RetrySettings,
    pub log: LogSettings,
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
    pub sendgrid_api_key: Secret,
    pub sendgrid_base_url: String,
    pub backends: HashMap<Kind, Backend>,
    /// `None` until `[unsubscribe] public_url` and `secret` are set.
    pub unsubscribe: Option<UnsubscribeSettings>,
    pub quiet_hours: QuietHoursSettings,
    pub limits: LimitsSettings,
    pub inbox: InboxSettings,
}

/// The validated `[inbox]` section.
#[derive(Debug, Clone)]
pub struct InboxSettings {
    pub enabled: bool,
    /// Origins (`https://dashboard.example.com`) allowed cross-origin requests.
    pub allowed_origins: Vec<String>,
    /// Most streams open at once, and per user.
    pub max_streams: usize,
    pub max_streams_per_user: usize,
    /// How often an idle stream sends a comment line.
    pub heartbeat: Duration,
    /// Most messages replayed to a stream that reconnects.
    pub replay_limit: usize,
}

/// The validated `[limits]` section.
#[derive(Debug, Clone, Default)]
pub struct LimitsSettings {
    /// E.164 prefixes (`+353`) SMS and voice may go to; empty: any.
    pub phone_prefixes: Vec<String>,
    /// Most SMS and voice messages one number is sent in an hour; 0: no cap.
    pub phone_per_hour: u32,
    /// (tenant, kind) → most messages sent in a UTC day.
    pub daily: std::collections::HashMap<(String, crate::message::Kind), u32>,
    /// (tenant, kind) → most messages sent a second, in tenant and kind order.
    pub rate: std::collections::BTreeMap<(String, crate::message::Kind), f64>,
}

impl LimitsSettings {
    /// Whether a message of `kind` may go to `address`.
    pub fn allows(&self, kind: crate::message::Kind, address: &str) -> bool {
        use crate::message::Kind;
        !matches!(kind, Kind::Sms | Kind::Voice)
            || self.phone_prefixes.is_empty()
            || self
                .phone_prefixes
                .iter()
                .any(|p| address.trim().starts_with(p.as_str()))
    }
}

impl Config {
    /// What is valid but an operator should know: printed by `config check`
    /// and logged at start.
    pub fn warnings(&self) -> Vec<String> {
        let mut warnings = Vec::new();
        if self.limits.phone_per_hour == 0 {
            warnings.push(
                "limits.phone_per_hour is 0: one number may be sent any number of SMS and calls"
                    .to_owned(),
            );
        }
        if self.limits.phone_prefixes.is_empty() {
            warnings.push(
                "limits.phone_prefixes is empty: SMS and voice messages may go to any country"
                    .to_owned(),
            );
        }
        warnings
    }
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
}

/// Backoff and budget of retries, from `[retry]`: the first retry waits up to
/// `base`, no backoff (except a provider's Retry-After) longer than `cap`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetrySettings {
    pub base: Duration,
    pub cap: Duration,
    /// The budget for messages whose `max_attempts` is NULL.
    pub max_attempts: i32,
}

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Text,
    Json,
}

/// `[log]`: the filter and the format.
#[derive(Debug, Clone)]
pub struct LogSettings {
    pub level: String,
    pub format: LogFormat,
}

/// What a housekeeping job does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Task {
    PurgeMessages,
    PurgeEvents,
    PurgeInbound,
    Expire,
    Schedules,
}

/// A housekeeping job with its cron schedule.
#[derive(Debug, Clone)]
pub struct Job {
    pub name: &'static str,
    pub cron: croner::Cron,
    pub task: Task,
}

/// Retention, batch size and jobs, from `[housekeeping]`.
#[derive(Debug, Clone)]
pub struct HousekeepingSettings {
    pub retention: Duration,
    pub event_retention: Duration,
    pub inbound_retention: Duration,
    pub batch_size: i64,
    pub jobs: Vec<Job>,
}

/// The validated `[console]` section.
#[derive(Debug, Clone)]
pub struct ConsoleSettings {
    pub enabled: bool,
    pub listen: SocketAddr,
    /// A session unused this long is over.
    pub session_idle: Duration,
    pub login_burst: u32,
    pub login_period: Duration,
    /// Header carrying the user a trusted reverse proxy authenticated.
    pub proxy_user_header: Option<axum::http::HeaderName>,
    /// Peers whose `proxy_user_header` is believed.
    pub proxy_addresses: Vec<IpAddr>,
    /// The longest any console statement may run (set on its connections).
    pub statement_timeout: Duration,
    /// A session this old is over, however busy it is.
    pub session_lifetime: Duration,
    /// Failed logins allowed from one address (IPv6: its /64), any user name.
    pub login_address_burst: u32,
    /// Most entries each login limiter map holds.
    pub login_max_entries: usize,
    /// Password checks (argon2) running at once; more get 503.
    pub login_concurrency: usize,
    /// `Secure` and the `__Host-` name for the session cookie.
    pub secure_cookie: bool,
    /// Host names (lowercase, no port) the console answers to, besides IP literals.
    pub allowed_hosts: Vec<String>,
    /// Longest wait for a request's complete headers.
    pub header_timeout: Duration,
    /// Longest a connection may stay open with no request being handled.
    pub keep_alive_timeout: Duration,
    /// Most connections served at once; further ones wait in the backlog.
    pub max_connections: usize,
    /// Connections of the console's own pool.
    pub pool_size: usize,
}

/// `[ops]`: `/healthz`, `/readyz` and `/metrics` on a listener of their own,
/// and how often the queue gauges are read from the database.
#[derive(Debug, Clone)]
pub struct OpsSettings {
    pub enabled: bool,
    pub listen: SocketAddr,
    /// When set, `/metrics` (on both listeners) wants `Authorization: Bearer TOKEN`.
    pub metrics_token: Option<Secret>,
    /// The queue gauges are read at most this often (and never more often
    /// than ten times the last read took).
    pub refresh_interval: Duration,
    /// Most connections the operations listener serves at once.
    pub max_connections: usize,
}

impl ConsoleSettings {
    /// Whether the session cookie is `Secure` and named `__Host-…`
    /// (`console.secure_cookie`; "auto": unless the console listens on loopback).
    pub fn secure_cookies(&self) -> bool {
        self.secure_cookie
    }
}

/// A key that signs unsubscribe tokens, and the version the tokens carry.
#[derive(Debug, Clone)]
pub struct UnsubscribeKey {
    pub version: u32,
    pub secret: Secret,
}

/// `[unsubscribe]`, checked: where the one-click links point and the keys
/// (what they do: the `unsubscribe` module).
#[derive(Debug, Clone)]
pub struct UnsubscribeSettings {
    /// `https://notify.example.com`: links are `{public_url}/unsubscribe/{token}`.
    pub public_url: String,
    /// Adds `<mailto:ADDRESS?subject=unsubscribe%20TOKEN>` to the header.
    pub mailto: Option<String>,
    /// Signs new tokens and verifies its own.
    pub current: UnsubscribeKey,
    /// Still verifies tokens signed before a rotation.
    pub previous: Option<UnsubscribeKey>,
}
