//! The operator console: server-rendered pages on their own listener
//! (`[console]`), for what the original Django admin did and for seeing what
//! happened to every message. Plain HTML forms, no JavaScript, templates and
//! CSS compiled into the binary; every change is a POST guarded by a session,
//! a role, a per-session token and an origin check, and lands in the audit log.

#[macro_use]
mod macros;

pub mod audit;
pub mod auth;
mod bulk;
mod chain;
mod chart;
mod csrf;
mod databases;
mod error;
mod filter;
mod form;
mod format;
mod guard;
mod inbound;
pub mod limiter;
mod listen;
mod message;
mod messages;
mod messaging;
mod overview;
mod pages;
mod pauses;
mod preview;
mod push_apps;
mod push_test;
pub(crate) mod queries;
mod schedules;
mod session;
pub mod settings;
mod smtp_form;
mod smtp_servers;
mod smtp_test;
mod state;
mod suppressions;
mod timeline;
pub mod users;
mod webhooks;

use axum::Router;
use axum::http::StatusCode;
use axum::middleware::{from_fn, from_fn_with_state};
use axum::routing::{get, post};

pub use databases::routers;
pub use error::ConsoleError;
pub(crate) use error::Result;
pub use listen::{serve, serve_databases, url_for};
pub use settings::Settings;
pub use state::ConsoleState;

/// Every console route: the public ones (the login form, the stylesheet)
/// and the rest behind the session layer; every request for a host the
/// console answers to, every change from its own origin.
pub fn router(state: ConsoleState) -> Router {
    let public = Router::new()
        .route("/login", get(auth::login_page).post(auth::login))
        .route("/static/console.css", get(pages::stylesheet));
    // An unknown path is behind the session layer too: the fallback is the
    // protected router's, and `layer` (not `route_layer`) covers it.
    let protected = protected()
        .fallback(|| async { StatusCode::NOT_FOUND })
        .layer(from_fn_with_state(state.clone(), session::require));
    public
        .merge(protected)
        .layer(from_fn(guard::origin))
        .layer(from_fn(guard::security_headers))
        .layer(from_fn_with_state(state.clone(), guard::hosts))
        .with_state(state)
}

/// The routes only a signed-in user reaches: a user scoped to a tenant
/// reaches the overview (which sends them to their messages), their
/// tenant's messages and the mail routed to it; the rest see every tenant
/// and are refused to them.
fn protected() -> Router<ConsoleState> {
    let every_tenant = Router::new()
        .route(
            "/smtp-servers",
            get(smtp_servers::list).post(smtp_servers::create),
        )
        .route("/smtp-servers/new", get(smtp_form::new_form))
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
        .route("/push-apps/test", post(push_test::test_push))
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
        .route("/pauses", post(pauses::pause))
        .route("/pauses/resume", post(pauses::resume))
        .route("/schedules", get(schedules::list))
        .route("/schedules/{name}/{switch}", post(schedules::switch))
        .route("/schedules/{name}/fire", post(schedules::fire))
        .route("/webhooks", get(webhooks::list).post(webhooks::create))
        .route("/webhooks/{id}", get(webhooks::page))
        .route("/webhooks/{id}/{switch}", post(webhooks::switch))
        .route("/webhooks/deliveries/{id}/replay", post(webhooks::replay))
        .route("/audit-log", get(audit::page))
        .route_layer(from_fn(session::every_tenant));
    Router::new()
        .route("/", get(overview::page))
        .route("/logout", post(auth::logout))
        .route("/database", post(databases::switch))
        .route("/messages", get(messages::list))
        .route("/messages/bulk", post(bulk::preview))
        .route("/messages/bulk/confirm", post(bulk::apply))
        .route("/messages/{id}", get(message::page))
        .route("/messages/{id}/preview", get(preview::preview))
        .route("/messages/{id}/retry", post(message::retry))
        .route("/messages/{id}/cancel", post(message::cancel))
        .route("/inbound", get(inbound::list))
        .route("/inbound/{id}", get(inbound::page))
        .route(
            "/inbound/{id}/attachments/{attachment}",
            get(inbound::attachment),
        )
        .merge(every_tenant)
}
