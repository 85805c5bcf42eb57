//! `/unsubscribe/{token}`: one-click unsubscribe (RFC 8058). `POST` with
//! `List-Unsubscribe=One-Click` turns the category off for the token's user
//! (or suppresses its address) and answers 200; `GET` only shows a page with
//! a button that does the same POST, because mail scanners follow links. A
//! bad or tampered token is refused with 400 and changes nothing. A repeat
//! changes nothing either (no write, no audit entry), and POSTs are counted
//! per token and per source: beyond the limits, 429 with `Retry-After`.

use std::net::SocketAddr;
use std::sync::LazyLock;

use axum::Extension;
use axum::body::Body;
use axum::extract::{ConnectInfo, Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use sha2::{Digest, Sha256};

use super::{AppState, body, reject, throttle};
use crate::db::Pg;
use crate::db::{DbError, statements};
use crate::unsubscribe::{Target, Who};

const ENDPOINT: &str = "unsubscribe";
/// A one-click body is 26 bytes; a form post from the page a little more.
const BODY_LIMIT: usize = 1024;

static PAGES: LazyLock<minijinja::Environment<'static>> = LazyLock::new(|| {
    let mut env = minijinja::Environment::new();
    env.add_template("confirm.html", CONFIRM)
        .expect("the confirmation page parses");
    env.add_template("done.html", DONE)
        .expect("the done page parses");
    env
});

const CONFIRM: &str = r#"<!doctype html>
<html><head><meta charset="utf-8"><meta name="viewport" content="width=device-width">
<title>Unsubscribe</title></head>
<body><h1>Unsubscribe</h1>
<p>Stop receiving <strong>{{ category }}</strong> messages by {{ kind }}?</p>
<form method="post"><input type="hidden" name="List-Unsubscribe" value="One-Click">
<button type="submit">Unsubscribe</button></form>
</body></html>
"#;

const DONE: &str = r#"<!doctype html>
<html><head><meta charset="utf-8"><title>Unsubscribed</title></head>
<body><h1>Unsubscribed</h1>
<p>You will no longer receive <strong>{{ category }}</strong> messages by {{ kind }}.</p>
</body></html>
"#;

fn page(name: &str, target: &Target) -> Response {
    let context = minijinja::context! {
        category => &target.category,
        kind => target.kind.as_str(),
    };
    match PAGES.get_template(name).and_then(|t| t.render(context)) {
        Ok(html) => Html(html).into_response(),
        Err(e) => reject(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
    }
}

/// The token's target, or the 400 (or 404 when unsubscribe is off) to answer.
fn target(state: &AppState, token: &str) -> Result<Target, Box<Response>> {
    let Some(settings) = state.unsubscribe.as_deref() else {
        state.metrics.request(ENDPOINT, "not_found");
        return Err(Box::new(reject(
            StatusCode::NOT_FOUND,
            "unsubscribe links are not configured",
        )));
    };
    settings.verify(token).map_err(|e| {
        state.metrics.request(ENDPOINT, "invalid");
        Box::new(reject(
            StatusCode::BAD_REQUEST,
            format!("this unsubscribe link is not valid ({e})"),
        ))
    })
}

/// `GET`: a confirmation page; changes nothing.
pub async fn confirm(State(state): State<AppState>, Path(token): Path<String>) -> Response {
    match target(&state, &token) {
        Ok(target) => {
            state.metrics.request(ENDPOINT, "shown");
            page("confirm.html", &target)
        }
        Err(response) => *response,
    }
}

/// `POST` with `List-Unsubscribe=One-Click`: the preference off (or the
/// address suppressed), then 200.
pub async fn one_click(
    State(state): State<AppState>,
    peer: Option<Extension<ConnectInfo<SocketAddr>>>,
    Path(token): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let source = throttle::source_key(peer.map(|p| p.0.0));
    if let Err(retry_after) = state.throttles.unsubscribe_source.hit(source) {
        state.metrics.request(ENDPOINT, "throttled");
        return throttle::too_many(
            retry_after,
            "too many unsubscribe requests from this address",
        );
    }
    let target = match target(&state, &token) {
        Ok(target) => target,
        Err(response) => return *response,
    };
    let digest = Sha256::digest(token.as_bytes());
    let mut key = [0u8; 16];
    key.copy_from_slice(&digest[..16]);
    if let Err(retry_after) = state.throttles.unsubscribe_token.hit(key) {
        state.metrics.request(ENDPOINT, "throttled");
        return throttle::too_many(retry_after, "this link was used too often");
    }
    let body = match body::read(&state.bodies, &headers, body, BODY_LIMIT).await {
        Ok(held) => held,
        Err(e) => {
            state.metrics.request(ENDPOINT, e.result());
            return e.into_response();
        }
    };
    let fields: Vec<(String, String)> =
        serde_urlencoded::from_bytes(&body.bytes).unwrap_or_default();
    if !fields
        .iter()
        .any(|(k, v)| k == "List-Unsubscribe" && v == "One-Click")
    {
        state.metrics.request(ENDPOINT, "invalid");
        return reject(
            StatusCode::BAD_REQUEST,
            "expected the form body List-Unsubscribe=One-Click",
        );
    }
    let (sql, who) = match &target.who {
        Who::User(user) => (statements::UNSUBSCRIBE_USER, user),
        Who::Address(address) => (statements::UNSUBSCRIBE_ADDRESS, address),
    };
    // The database the message came from (a link from one of several the
    // daemon serves names it); one this daemon does not serve is refused.
    let pool = match &target.database {
        None => &state.pool,
        Some(name) => match state.databases.iter().find(|d| &d.name == name) {
            Some(database) => &database.pool,
            None => {
                state.metrics.request(ENDPOINT, "invalid");
                return reject(
                    StatusCode::NOT_FOUND,
                    "this link is for a database this server does not serve",
                );
            }
        },
    };
    let result = async {
        let client = pool.get().await?;
        client
            .pg_execute(sql, &[who, &target.category, &target.kind.as_str()])
            .await?;
        Ok::<_, DbError>(())
    }
    .await;
    match result {
        Ok(_) => {
            state.metrics.request(ENDPOINT, "unsubscribed");
            tracing::info!(
                category = target.category,
                kind = target.kind.as_str(),
                "one-click unsubscribe"
            );
            page("done.html", &target)
        }
        Err(e) => {
            state.metrics.request(ENDPOINT, "error");
            tracing::error!(error = %e, "one-click unsubscribe could not be stored");
            reject(
                StatusCode::SERVICE_UNAVAILABLE,
                "could not store the request; please try again",
            )
        }
    }
}
