//! Signing in and out: password login (argon2id, limited per address and
//! per user from an address, see `limiter`), the optional trusted proxy
//! header, and server-side sessions with an idle and an absolute lifetime,
//! whose cookie is `HttpOnly`, `SameSite=Strict` and, with
//! `console.secure_cookie`, `Secure` and named `__Host-…`.

use crate::db::Pg;
use std::net::{IpAddr, SocketAddr};

use axum::extract::{ConnectInfo, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::{Extension, Form};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::csrf::Csrf;
use super::limiter::{Refused, normalise_name};
use super::pages::PAGES;
use super::session::Session;
use super::{ConsoleState, Result, Settings, guard, queries, users};

/// The session cookie's name on plain HTTP (`console.secure_cookie` off).
pub const COOKIE: &str = "outpost_console";
/// Its name when it is `Secure`: browsers accept a `__Host-` cookie only
/// from a secure origin, for the whole host, never set by a sibling domain.
pub const SECURE_COOKIE: &str = "__Host-outpost_console";

/// The session cookie's name under `settings`.
pub fn cookie_name(settings: &Settings) -> &'static str {
    if settings.secure_cookies() {
        SECURE_COOKIE
    } else {
        COOKIE
    }
}

fn sha256_hex(text: &str) -> String {
    hex::encode(Sha256::digest(text.as_bytes()))
}

fn random_token() -> String {
    hex::encode(rand::random::<[u8; 32]>())
}

/// The client's address: the peer's, or the last hop a trusted proxy names.
pub fn client_address(
    settings: &Settings,
    peer: Option<SocketAddr>,
    headers: &HeaderMap,
) -> IpAddr {
    let peer_ip = peer.map_or(IpAddr::from([127, 0, 0, 1]), |p| p.ip());
    if settings.proxy_addresses.contains(&peer_ip)
        && let Some(forwarded) = headers
            .get("x-forwarded-for")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.rsplit(',').next())
            .and_then(|v| v.trim().parse().ok())
    {
        return forwarded;
    }
    peer_ip
}

/// The session token a request's cookie carries, when it looks like one.
pub(super) fn cookie(headers: &HeaderMap, cookie_name: &str) -> Option<String> {
    cookie_value(headers, cookie_name)
        .filter(|v| v.len() == 64 && v.chars().all(|c| c.is_ascii_hexdigit()))
}

/// The value of the request's cookie `cookie_name`, as sent.
pub(super) fn cookie_value(headers: &HeaderMap, cookie_name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == cookie_name)
        .map(|(_, value)| value.to_owned())
}

/// Starts a session for `user`; returns the Set-Cookie value.
async fn start(state: &ConsoleState, user: &str, address: IpAddr) -> Result<HeaderValue> {
    let token = random_token();
    let client = state.home.get().await?;
    client.pg_execute(queries::SESSIONS_PURGE, &[]).await?;
    client
        .pg_execute(
            queries::SESSION_INSERT,
            &[
                &sha256_hex(&token),
                &user,
                &random_token(),
                &address.to_string(),
                &state
                    .settings
                    .session_idle
                    .min(state.settings.session_lifetime)
                    .as_secs_f64(),
            ],
        )
        .await?;
    HeaderValue::from_str(&format!(
        "{}={token}{}",
        cookie_name(&state.settings),
        cookie_attributes(&state.settings)
    ))
    .map_err(super::ConsoleError::from)
}

/// The session cookie's attributes (`__Host-` requires `Secure`, `Path=/`
/// and no `Domain`).
fn cookie_attributes(settings: &Settings) -> &'static str {
    if settings.secure_cookies() {
        "; Path=/; HttpOnly; SameSite=Strict; Secure"
    } else {
        "; Path=/; HttpOnly; SameSite=Strict"
    }
}

/// Longest `next` kept after login.
const NEXT_LIMIT: usize = 2048;

/// `next` when it is an absolute path on this site, else `/`. Accepted:
/// printable ASCII only (no tab, newline, space or other byte a browser
/// strips or rewrites), starting with one `/` not followed by `/` or `\`,
/// no `\` anywhere; the same holds once percent-decoded, so neither
/// `/%09/evil.example`, `//evil.example`, `/\evil.example` nor their encoded
/// forms leave the site.
pub(crate) fn local_path(next: Option<&str>) -> String {
    next.filter(|n| n.len() <= NEXT_LIMIT && is_local_path(n))
        .map_or_else(|| "/".to_owned(), str::to_owned)
}

fn is_local_path(next: &str) -> bool {
    let starts_local =
        |p: &[u8]| p.first() == Some(&b'/') && !matches!(p.get(1), Some(b'/' | b'\\'));
    let raw = next.as_bytes();
    let decoded = percent_decode(raw);
    starts_local(raw)
        && raw.iter().all(|b| b.is_ascii_graphic() && *b != b'\\')
        && starts_local(&decoded)
        && decoded.iter().all(|b| !b.is_ascii_control() && *b != b'\\')
}

/// `%XX` sequences decoded once (others left as they are).
fn percent_decode(raw: &[u8]) -> Vec<u8> {
    let hex = |b: u8| (b as char).to_digit(16).map(|d| d as u8);
    let mut out = Vec::with_capacity(raw.len());
    let mut i = 0;
    while i < raw.len() {
        if raw[i] == b'%'
            && let (Some(hi), Some(lo)) = (
                raw.get(i + 1).copied().and_then(hex),
                raw.get(i + 2).copied().and_then(hex),
            )
        {
            out.push(hi << 4 | lo);
            i += 3;
        } else {
            out.push(raw[i]);
            i += 1;
        }
    }
    out
}

/// The login form, with why the last attempt failed.
#[derive(Serialize, Default)]
pub(super) struct LoginPage {
    next: String,
    error: Option<String>,
    name: Option<String>,
}

page! {
    LoginPage => "login.html", "login";
}

#[derive(Deserialize)]
pub struct LoginQuery {
    next: Option<String>,
}

/// `GET /login`: the form, or straight in through the trusted proxy header.
pub async fn login_page(
    State(state): State<ConsoleState>,
    peer: Option<Extension<ConnectInfo<SocketAddr>>>,
    headers: HeaderMap,
    Query(query): Query<LoginQuery>,
) -> Result<Response> {
    let next = local_path(query.next.as_deref());
    let peer = peer.map(|c| c.0.0);
    if let Some(user) = proxy_user(&state, peer, &headers).await? {
        let address = client_address(&state.settings, peer, &headers);
        let cookie = start(&state, &user, address).await?;
        return Ok(([(header::SET_COOKIE, cookie)], Redirect::to(&next)).into_response());
    }
    let page = LoginPage {
        next,
        error: None,
        name: None,
    };
    Ok(PAGES.page(None, &page)?.into_response())
}

/// The user a trusted reverse proxy vouches for, when that is configured,
/// the request comes from it and the user exists.
async fn proxy_user(
    state: &ConsoleState,
    peer: Option<SocketAddr>,
    headers: &HeaderMap,
) -> Result<Option<String>> {
    let Some(name) = &state.settings.proxy_user_header else {
        return Ok(None);
    };
    let Some(peer) = peer else {
        return Ok(None);
    };
    // The router refuses other hosts first; checked again here because this
    // header is a password: believed only from a configured proxy, for a
    // Host the console answers to (no rebound name).
    if !state.settings.proxy_addresses.contains(&peer.ip())
        || !guard::host_allowed(&state.settings, guard::request_host(headers, None))
    {
        return Ok(None);
    }
    let Some(user) = headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .and_then(normalise_name)
    else {
        return Ok(None);
    };
    let client = state.home.get().await?;
    let row = client.pg_query_opt(queries::USER_FIND, &[&user]).await?;
    Ok(row.map(|r| r.try_get("name")).transpose()?)
}

#[derive(Deserialize)]
pub struct LoginForm {
    name: String,
    password: String,
    next: Option<String>,
}

/// A dummy hash verified for unknown users, so timing does not tell which names exist.
static DUMMY_HASH: std::sync::LazyLock<String> =
    std::sync::LazyLock::new(|| users::hash_password("not a real password").unwrap_or_default());

/// `POST /login`.
pub async fn login(
    State(state): State<ConsoleState>,
    peer: Option<Extension<ConnectInfo<SocketAddr>>>,
    headers: HeaderMap,
    Form(form): Form<LoginForm>,
) -> Result<Response> {
    let address = client_address(&state.settings, peer.map(|c| c.0.0), &headers);
    let next = local_path(form.next.as_deref());
    let shown_name: String = form.name.chars().take(super::limiter::MAX_NAME).collect();
    let refuse = |status: StatusCode, error: &str| -> Result<Response> {
        Ok((
            status,
            PAGES.page(
                None,
                &LoginPage {
                    next: next.clone(),
                    error: Some(error.to_owned()),
                    name: Some(shown_name.clone()),
                },
            )?,
        )
            .into_response())
    };
    let attempt = match state.limits.attempt(&form.name, address) {
        Ok(attempt) => attempt,
        Err(Refused::TooMany) => {
            tracing::warn!(%address, "console login rate limit reached");
            return refuse(
                StatusCode::TOO_MANY_REQUESTS,
                "Too many login attempts. Wait a minute and try again.",
            );
        }
        Err(Refused::Busy) => {
            tracing::warn!(%address, "console login refused: every password check slot is busy");
            let mut busy = refuse(
                StatusCode::SERVICE_UNAVAILABLE,
                "The console is busy checking other sign-ins. Try again in a moment.",
            )?;
            busy.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
            return Ok(busy);
        }
    };
    let row = match normalise_name(&form.name) {
        Some(name) => {
            let client = state.home.get().await?;
            client.pg_query_opt(queries::USER_FIND, &[&name]).await?
        }
        None => None,
    };
    let hash: Option<String> = match &row {
        Some(r) => r.try_get("password_hash")?,
        None => None,
    };
    let password = form.password.clone();
    let candidate = hash.clone().unwrap_or_else(|| DUMMY_HASH.clone());
    let matches =
        tokio::task::spawn_blocking(move || users::verify_password(&password, &candidate))
            .await
            .unwrap_or(false);
    let user: Option<String> = match &row {
        Some(r) if matches && hash.is_some() => Some(r.try_get("name")?),
        _ => None,
    };
    let Some(user) = user else {
        drop(attempt);
        return refuse(StatusCode::UNAUTHORIZED, "Wrong user name or password.");
    };
    state.limits.succeeded(attempt);
    let cookie = start(&state, &user, address).await?;
    tracing::info!(user = %user, "console login");
    Ok(([(header::SET_COOKIE, cookie)], Redirect::to(&next)).into_response())
}

/// `POST /logout`: the session row is deleted, so the cookie is worthless.
pub async fn logout(
    State(state): State<ConsoleState>,
    session: Session,
    _: Csrf,
) -> Result<Response> {
    let client = state.home.get().await?;
    client
        .pg_execute(queries::SESSION_DELETE, &[&session.token_hash])
        .await?;
    let expired = format!(
        "{}={}; Max-Age=0",
        cookie_name(&state.settings),
        cookie_attributes(&state.settings)
    );
    Ok(([(header::SET_COOKIE, expired)], Redirect::to("/login")).into_response())
}
