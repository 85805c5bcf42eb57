//! The HTTP side: SendGrid Inbound Parse, signed provider callbacks, the
//! real-time inbox (`inbox`), health, readiness and metrics (also alone on
//! the operations listener),
//! behind body limits, a shared body memory budget, connection limits,
//! timeouts and request logs.

pub mod access_log;
pub mod body;
pub mod events;
pub mod health;
pub mod inbound;
pub mod inbox;
pub mod server;
pub mod throttle;
pub mod twilio;
pub mod unsubscribe;

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use deadpool_postgres::Pool;
use tokio_util::sync::CancellationToken;
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::{DefaultOnResponse, TraceLayer};

use crate::config::{Config, WebhookSettings};
use crate::db::{DbError, Pg};
use crate::dispatch::Heartbeat;
use crate::dispatch::listener::ListenState;
use crate::metrics::Metrics;

/// What every handler shares.
#[derive(Clone)]
pub struct AppState {
    pub pool: Pool,
    pub webhooks: Arc<WebhookSettings>,
    pub metrics: Arc<Metrics>,
    /// The dispatcher's claim loop, when this process runs one.
    pub heartbeat: Option<Arc<Heartbeat>>,
    /// The dispatcher's LISTEN connection, when this process runs one.
    pub listen: Option<Arc<ListenState>>,
    /// A heartbeat older than this makes /readyz fail.
    pub stale_after: Duration,
    /// Largest inbound mail body, and largest signed callback body.
    pub body_limit: usize,
    pub webhook_body_limit: usize,
    /// The memory all bodies being read may hold together.
    pub bodies: body::Budget,
    /// One-click unsubscribe links, when configured.
    pub unsubscribe: Option<Arc<crate::config::UnsubscribeSettings>>,
    /// The inbound and unsubscribe endpoints' per-source and per-token limits.
    pub throttles: Arc<Throttles>,
    /// `ops.metrics_token`: when set, `/metrics` wants it as a bearer token.
    pub metrics_token: Option<crate::config::Secret>,
    /// The real-time inbox's hubs, one per database, when `[inbox]` is
    /// enabled (a token is served by the hub whose keys signed it).
    pub inboxes: Vec<Arc<crate::inbox::Hub>>,
    /// The inbox's routes and their CORS origins.
    pub inbox_settings: Arc<crate::config::InboxSettings>,
    /// Every database the daemon serves, when it serves several (`/readyz`
    /// reports each; the other routes serve the first, `pool`).
    pub databases: Vec<DatabaseState>,
}

/// One of several databases the daemon serves, as `/readyz` reports it.
#[derive(Clone)]
pub struct DatabaseState {
    pub name: String,
    pub pool: Pool,
    pub heartbeat: Arc<Heartbeat>,
    /// Its LISTEN connection (`None`: the dispatcher polls).
    pub listen: Option<Arc<ListenState>>,
}

/// The request throttles (bounds in `throttle` and in docs/limits.md).
#[derive(Debug)]
pub struct Throttles {
    /// Failed Basic logins on `/inbound/sendgrid`, per source.
    pub inbound_failures: throttle::Throttle<std::net::IpAddr>,
    /// One-click unsubscribe POSTs per token (a SHA-256 prefix of it).
    pub unsubscribe_token: throttle::Throttle<[u8; 16]>,
    /// One-click unsubscribe POSTs per source.
    pub unsubscribe_source: throttle::Throttle<std::net::IpAddr>,
}

/// Keys each throttle remembers at most.
pub const THROTTLE_KEYS: usize = 10_000;
/// Failed inbound logins allowed per source per [`THROTTLE_PERIOD`].
pub const INBOUND_FAILURES: u32 = 10;
/// One-click unsubscribe POSTs allowed per token per [`THROTTLE_PERIOD`].
pub const UNSUBSCRIBE_PER_TOKEN: u32 = 5;
/// One-click unsubscribe POSTs allowed per source per [`THROTTLE_PERIOD`].
pub const UNSUBSCRIBE_PER_SOURCE: u32 = 600;
/// The window every throttle counts in.
pub const THROTTLE_PERIOD: Duration = Duration::from_secs(60);

impl Default for Throttles {
    fn default() -> Self {
        Self {
            inbound_failures: throttle::Throttle::new(
                INBOUND_FAILURES,
                THROTTLE_PERIOD,
                THROTTLE_KEYS,
            ),
            unsubscribe_token: throttle::Throttle::new(
                UNSUBSCRIBE_PER_TOKEN,
                THROTTLE_PERIOD,
                THROTTLE_KEYS,
            ),
            unsubscribe_source: throttle::Throttle::new(
                UNSUBSCRIBE_PER_SOURCE,
                THROTTLE_PERIOD,
                THROTTLE_KEYS,
            ),
        }
    }
}

impl AppState {
    pub fn new(
        pool: Pool,
        config: &Config,
        metrics: Arc<Metrics>,
        heartbeat: Option<Arc<Heartbeat>>,
    ) -> Self {
        Self {
            pool,
            webhooks: Arc::new(config.webhooks.clone()),
            metrics,
            heartbeat,
            listen: None,
            stale_after: (config.dispatch.poll_interval * 3).max(Duration::from_secs(10)),
            body_limit: config.http.body_limit,
            webhook_body_limit: config.http.webhook_body_limit,
            bodies: body::Budget::new(config.http.body_memory),
            unsubscribe: config.unsubscribe.clone().map(Arc::new),
            throttles: Arc::new(Throttles::default()),
            metrics_token: config.ops.metrics_token.clone(),
            inboxes: Vec::new(),
            inbox_settings: Arc::new(config.inbox.clone()),
            databases: Vec::new(),
        }
    }
}

impl AppState {
    /// Reports the dispatcher's LISTEN connection in `/readyz`.
    pub fn with_listen(mut self, listen: Arc<ListenState>) -> Self {
        self.listen = Some(listen);
        self
    }

    /// Where a provider callback about `provider_id` belongs: the pool of
    /// the database that sent that message, and whether the id Outpost
    /// echoed in it may be trusted there. With one database, that one and
    /// yes; with several (whose message ids overlap), the first that holds
    /// the provider's id, else the first database with the echoed id
    /// ignored (the callback is stored unmatched rather than applied to
    /// another database's message of the same number).
    pub async fn route(&self, provider_id: Option<&str>) -> Result<(&Pool, bool), DbError> {
        if self.databases.is_empty() {
            return Ok((&self.pool, true));
        }
        if let Some(provider_id) = provider_id {
            for database in &self.databases {
                let client = database.pool.get().await?;
                let row = client
                    .pg_query_one(crate::db::statements::EVENT_ROUTE, &[&provider_id])
                    .await?;
                if row.try_get::<_, bool>("sent_here")? {
                    return Ok((&database.pool, false));
                }
            }
        }
        Ok((&self.pool, false))
    }

    /// Reports each of `databases` in `/readyz`.
    pub fn with_databases(mut self, databases: Vec<DatabaseState>) -> Self {
        self.databases = databases;
        self
    }

    /// Serves the real-time inbox through `hub` too (one per database).
    pub fn with_inbox(mut self, hub: Arc<crate::inbox::Hub>) -> Self {
        self.inboxes.push(hub);
        self
    }
}

/// The routes, with their request timeout; each handler reads its body
/// itself, after whatever it can check from the headers alone.
pub fn router(state: AppState, timeout: Duration) -> Router {
    let inbox = inbox::routes(&state.inbox_settings);
    Router::new()
        .route("/healthz", get(health::healthz))
        .route("/readyz", get(health::readyz))
        .route("/metrics", get(health::metrics))
        .route("/inbound/sendgrid", post(inbound::sendgrid))
        .route("/webhooks/sendgrid/events", post(events::sendgrid))
        .route("/webhooks/twilio/status", post(twilio::status))
        .route(
            "/unsubscribe/{token}",
            get(unsubscribe::confirm).post(unsubscribe::one_click),
        )
        .merge(inbox)
        .layer(TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            timeout,
        ))
        .layer(
            TraceLayer::new_for_http()
                .make_span_with(access_log::RequestSpan)
                .on_response(DefaultOnResponse::new().level(tracing::Level::INFO)),
        )
        .with_state(state)
}

/// The operations listener's routes: health, readiness and metrics only.
pub fn ops_router(state: AppState, timeout: Duration) -> Router {
    Router::new()
        .route("/healthz", get(health::healthz))
        .route("/readyz", get(health::readyz))
        .route("/metrics", get(health::metrics))
        .layer(TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            timeout,
        ))
        .with_state(state)
}

/// Serves `router` on `listener` within `limits` until `shutdown`.
pub async fn serve(
    listener: tokio::net::TcpListener,
    router: Router,
    limits: server::Limits,
    shutdown: CancellationToken,
) -> std::io::Result<()> {
    server::serve(listener, router, limits, shutdown).await
}

/// A refusal with a plain-text reason.
pub(crate) fn reject(status: StatusCode, reason: impl Into<String>) -> Response {
    (status, reason.into()).into_response()
}
