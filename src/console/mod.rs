//! The operator console: server-rendered pages on their own listener
//! (`[console]`), for what the original Django admin did and for seeing what
//! happened to every message. Plain HTML forms, no JavaScript, templates and
//! CSS compiled into the binary; every change is a POST guarded by a session,
//! a role, a per-session token and an origin check, and lands in the audit log.

/// A template context whose values are anything `Serialize`.
macro_rules! ctx {
    ($($key:ident $(=> $value:expr)?),* $(,)?) => {{
        #[allow(unused_mut)]
        let mut map = std::collections::BTreeMap::<&'static str, minijinja::Value>::new();
        $( ctx!(@pair map, $key $(=> $value)?); )*
        minijinja::Value::from(minijinja::value::Serde(&map))
    }};
    (@pair $map:ident, $key:ident) => {
        $map.insert(stringify!($key), minijinja::Value::from(minijinja::value::Serde(&$key)));
    };
    (@pair $map:ident, $key:ident => $value:expr) => {
        $map.insert(stringify!($key), minijinja::Value::from(minijinja::value::Serde(&$value)));
    };
}

pub mod audit;
pub mod auth;
mod chart;
mod form;
mod guard;
mod inbound;
pub mod limiter;
mod message;
mod messages;
mod messaging;
mod overview;
mod pages;
mod push_apps;
pub(crate) mod queries;
mod schedules;
pub mod settings;
mod smtp_servers;
mod smtp_test;
mod suppressions;
pub mod users;

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use deadpool_postgres::Pool;
use tokio_util::sync::CancellationToken;

use crate::config::Config;
use crate::db::DbError;
use crate::render::Templates;
pub use settings::Settings;

/// What every console handler shares.
#[derive(Clone)]
pub struct ConsoleState {
    pub pool: Pool,
    pub config: Arc<Config>,
    pub settings: Arc<Settings>,
    pub templates: Arc<Templates>,
    pub(crate) limits: Arc<limiter::LoginLimits>,
}

impl ConsoleState {
    pub fn new(pool: Pool, config: &Config, templates: Arc<Templates>) -> Self {
        Self {
            pool,
            settings: Arc::new(config.console.clone()),
            limits: Arc::new(limiter::LoginLimits::new(&config.console)),
            config: Arc::new(config.clone()),
            templates,
        }
    }
}

/// The console's own pool: four connections, each with
/// `console.statement_timeout`.
pub fn pool(config: &Config) -> Result<Pool, DbError> {
    crate::db::pool_with_statement_timeout(
        &config.database_url,
        4,
        config.console.statement_timeout,
    )
}

/// Why a console request failed; rendered as a short plain page.
#[derive(Debug, thiserror::Error)]
pub enum ConsoleError {
    #[error(transparent)]
    Db(#[from] DbError),
    #[error("not found")]
    NotFound,
    #[error("{0}")]
    Forbidden(&'static str),
    #[error(transparent)]
    Refused(#[from] form::Refusal),
    /// A provider client could not be set up from what is stored (a test
    /// connection or a test push); the operator sees why.
    #[error("cannot set up the client: {0}")]
    Setup(#[source] crate::channel::SendError),
    #[error("cannot render the page: {0}")]
    Render(#[from] minijinja::Error),
    #[error("cannot build the session cookie: {0}")]
    Cookie(#[from] axum::http::header::InvalidHeaderValue),
    #[error("the configuration's {0} is unusable here")]
    Misconfigured(&'static str),
}

impl From<tokio_postgres::Error> for ConsoleError {
    fn from(e: tokio_postgres::Error) -> Self {
        Self::Db(DbError::Query(e))
    }
}

impl From<deadpool_postgres::PoolError> for ConsoleError {
    fn from(e: deadpool_postgres::PoolError) -> Self {
        Self::Db(DbError::Pool(e))
    }
}

impl ConsoleError {
    /// Whether PostgreSQL cancelled the statement (`console.statement_timeout`).
    fn timed_out(&self) -> bool {
        matches!(self, ConsoleError::Db(DbError::Query(e))
            if e.code() == Some(&tokio_postgres::error::SqlState::QUERY_CANCELED))
    }
}

impl IntoResponse for ConsoleError {
    fn into_response(self) -> Response {
        if self.timed_out() {
            tracing::warn!(error = %self, "console statement cancelled by console.statement_timeout");
            return error_page(
                StatusCode::SERVICE_UNAVAILABLE,
                "the database took longer than console.statement_timeout allows; \
                 narrow the search or try again later"
                    .to_owned(),
            );
        }
        let status = match &self {
            ConsoleError::Db(_)
            | ConsoleError::Render(_)
            | ConsoleError::Cookie(_)
            | ConsoleError::Misconfigured(_) => {
                let mut reason = self.to_string();
                let mut source = std::error::Error::source(&self);
                while let Some(cause) = source {
                    reason = format!("{reason}: {cause}");
                    source = cause.source();
                }
                tracing::error!(error = %reason, "console request failed");
                StatusCode::INTERNAL_SERVER_ERROR
            }
            ConsoleError::NotFound => StatusCode::NOT_FOUND,
            ConsoleError::Forbidden(_) => StatusCode::FORBIDDEN,
            ConsoleError::Refused(_) | ConsoleError::Setup(_) => StatusCode::BAD_REQUEST,
        };
        let text = match &self {
            ConsoleError::Db(_)
            | ConsoleError::Render(_)
            | ConsoleError::Cookie(_)
            | ConsoleError::Misconfigured(_) => "internal error (see the daemon's log)".to_owned(),
            other => other.to_string(),
        };
        error_page(status, text)
    }
}

/// The short plain page a failed console request gets.
fn error_page(status: StatusCode, text: String) -> Response {
    let body = pages::PAGES
        .render(
            "error.html",
            None,
            "",
            ctx! { code => status.as_u16(), text => text },
        )
        .map(|h| h.0)
        .unwrap_or(text);
    (
        status,
        [(axum::http::header::CONTENT_TYPE, "text/html; charset=utf-8")],
        body,
    )
        .into_response()
}

pub(crate) type Result<T, E = ConsoleError> = std::result::Result<T, E>;

/// Every console route.
pub fn router(state: ConsoleState) -> Router {
    Router::new()
        .route("/", get(overview::page))
        .route("/static/console.css", get(pages::stylesheet))
        .route("/login", get(auth::login_page).post(auth::login))
        .route("/logout", post(auth::logout))
        .route("/messages", get(messages::list))
        .route("/messages/bulk", post(messages::bulk_preview))
        .route("/messages/bulk/confirm", post(messages::bulk_apply))
        .route("/messages/{id}", get(message::page))
        .route("/messages/{id}/preview", get(message::preview))
        .route("/messages/{id}/retry", post(message::retry))
        .route("/messages/{id}/cancel", post(message::cancel))
        .route(
            "/smtp-servers",
            get(smtp_servers::list).post(smtp_servers::create),
        )
        .route("/smtp-servers/new", get(smtp_servers::new_form))
        .route(
            "/smtp-servers/{id}",
            get(smtp_servers::edit_form).post(smtp_servers::update),
        )
        .route("/smtp-servers/{id}/{switch}", post(smtp_servers::switch))
        .route("/smtp-servers/{id}/move", post(smtp_servers::reorder))
        .route("/smtp-servers/{id}/delete", post(smtp_servers::delete))
        .route("/smtp-servers/{id}/test", post(smtp_test::test_connection))
        .route("/smtp-servers/{id}/send-test", post(smtp_test::send_test))
        .route("/push-apps", get(push_apps::list).post(push_apps::create))
        .route("/push-apps/new", get(push_apps::new_form))
        .route("/push-apps/test", post(push_apps::test_push))
        .route(
            "/push-apps/{name}",
            get(push_apps::edit_form).post(push_apps::update),
        )
        .route("/push-apps/{name}/{switch}", post(push_apps::switch))
        .route("/messaging", get(messaging::list).post(messaging::save))
        .route("/messaging/{tenant}/delete", post(messaging::delete))
        .route(
            "/suppressions",
            get(suppressions::list).post(suppressions::add),
        )
        .route("/suppressions/remove", post(suppressions::remove))
        .route("/schedules", get(schedules::list))
        .route("/schedules/{name}/{switch}", post(schedules::switch))
        .route("/schedules/{name}/fire", post(schedules::fire))
        .route("/inbound", get(inbound::list))
        .route("/inbound/{id}", get(inbound::page))
        .route(
            "/inbound/{id}/attachments/{attachment}",
            get(inbound::attachment),
        )
        .route("/audit-log", get(audit::page))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            guard::guard,
        ))
        .layer(axum::middleware::from_fn(guard::security_headers))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            guard::hosts,
        ))
        .with_state(state)
}

/// Serves the console on `listener` until `shutdown`.
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: ConsoleState,
    limits: crate::http::server::Limits,
    shutdown: CancellationToken,
) -> std::io::Result<()> {
    crate::http::serve(listener, router(state), limits, shutdown).await
}

/// The URL a browser opens for a listener address.
pub fn url_for(addr: SocketAddr) -> String {
    let host = match addr.ip() {
        ip if ip.is_unspecified() => "127.0.0.1".to_owned(),
        std::net::IpAddr::V6(ip) => format!("[{ip}]"),
        ip => ip.to_string(),
    };
    format!("http://{host}:{}/", addr.port())
}
