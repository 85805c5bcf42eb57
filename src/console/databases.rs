//! One console over several databases (`[database] urls`): a router per
//! database, all sharing the first database's users and sessions, and the
//! `outpost_console_database` cookie, set by `POST /database`, choosing
//! which one a request is served by.

use axum::Router;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderValue, Request, header};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use tower::ServiceExt;

use super::csrf::CsrfForm;
use super::session::Session;
use super::{ConsoleError, ConsoleState, Result, router};

/// The cookie naming the database a browser's console shows.
pub const COOKIE: &str = "outpost_console_database";

/// The console over `states` (one per database, in `database.urls`
/// order): the router of the database the request's cookie names, the
/// first's without one (or with a name it does not know).
pub fn routers(states: Vec<ConsoleState>) -> Router {
    let mut named: Vec<(String, Router)> = states
        .into_iter()
        .map(|state| {
            let name = state
                .database
                .as_ref()
                .map(|d| d.current.clone())
                .unwrap_or_default();
            (name, router(state))
        })
        .collect();
    if named.len() == 1 {
        return named.remove(0).1;
    }
    Router::new().fallback_service(tower::service_fn(move |request: Request<Body>| {
        let chosen = super::auth::cookie_value(request.headers(), COOKIE);
        let router = named
            .iter()
            .find(|(name, _)| Some(name.as_str()) == chosen.as_deref())
            .unwrap_or(&named[0])
            .1
            .clone();
        router.oneshot(request)
    }))
}

#[derive(Debug, Deserialize)]
pub struct Choice {
    database: String,
}

/// `POST /database`: shows another of the databases from now on.
pub async fn switch(
    State(state): State<ConsoleState>,
    _: Session,
    CsrfForm(choice): CsrfForm<Choice>,
) -> Result<Response> {
    let known = state
        .database
        .as_ref()
        .is_some_and(|d| d.names.contains(&choice.database));
    if !known {
        return Err(ConsoleError::NotFound);
    }
    let secure = if state.settings.secure_cookies() {
        "; Secure"
    } else {
        ""
    };
    let cookie = HeaderValue::from_str(&format!(
        "{COOKIE}={}; Path=/; HttpOnly; SameSite=Strict{secure}",
        choice.database
    ))?;
    Ok(([(header::SET_COOKIE, cookie)], Redirect::to("/")).into_response())
}
