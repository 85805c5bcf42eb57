//! Signing in and out: password login (argon2id, rate-limited per user and
//! per address), the optional trusted proxy header, and server-side
//! sessions whose cookie is `HttpOnly`, `SameSite=Strict` and `Secure` off
//! loopback.

use std::net::{IpAddr, SocketAddr};
use std::num::NonZeroU32;

use axum::extract::{ConnectInfo, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::{Extension, Form};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use serde::Deserialize;
use sha2::{Digest, Sha256};

use super::pages::PAGES;
use super::{ConsoleState, Result, Settings, queries, users};

/// The session cookie's name.
pub const COOKIE: &str = "outpost_console";

/// A signed-in console user, as the guard found them.
#[derive(Debug, Clone)]
pub struct Session {
    pub user: String,
    pub role: String,
    /// The token every form of this session carries.
    pub csrf: String,
    /// Where the request came from (for the audit log).
    pub address: String,
    pub(crate) token_hash: String,
}

impl Session {
    pub fn is_admin(&self) -> bool {
        self.role == "admin"
    }
}

/// Login attempts allowed per user name and per client address.
pub struct LoginLimits {
    by_user: DefaultKeyedRateLimiter<String>,
    by_address: DefaultKeyedRateLimiter<IpAddr>,
}

impl LoginLimits {
    pub fn new(settings: &Settings) -> Self {
        let quota = Quota::with_period(settings.login_period)
            .expect("login_period is checked to be positive")
            .allow_burst(NonZeroU32::new(settings.login_burst).unwrap_or(NonZeroU32::MIN));
        Self {
            by_user: RateLimiter::keyed(quota),
            by_address: RateLimiter::keyed(quota),
        }
    }

    /// Takes one attempt for `user` from `address`; false when either is spent.
    fn allow(&self, user: &str, address: IpAddr) -> bool {
        let user_ok = self.by_user.check_key(&user.to_lowercase()).is_ok();
        let address_ok = self.by_address.check_key(&address).is_ok();
        user_ok && address_ok
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

/// The session a request's cookie names, if it is live; its idle timer restarts.
pub async fn find(
    state: &ConsoleState,
    headers: &HeaderMap,
    address: IpAddr,
) -> Result<Option<Session>> {
    let Some(token) = cookie(headers) else {
        return Ok(None);
    };
    let token_hash = sha256_hex(&token);
    let client = state.pool.get().await?;
    let row = client
        .query_opt(
            queries::SESSION_TOUCH,
            &[&token_hash, &state.settings.session_idle.as_secs_f64()],
        )
        .await?;
    Ok(row.map(|r| Session {
        user: r.get("user_name"),
        role: r.get("role"),
        csrf: r.get("csrf_token"),
        address: address.to_string(),
        token_hash,
    }))
}

fn cookie(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == COOKIE)
        .map(|(_, value)| value.to_owned())
        .filter(|v| v.len() == 64 && v.chars().all(|c| c.is_ascii_hexdigit()))
}

/// Starts a session for `user`; returns the Set-Cookie value.
async fn start(state: &ConsoleState, user: &str, address: IpAddr) -> Result<HeaderValue> {
    let token = random_token();
    let client = state.pool.get().await?;
    client.execute(queries::SESSIONS_PURGE, &[]).await?;
    client
        .execute(
            queries::SESSION_INSERT,
            &[
                &sha256_hex(&token),
                &user,
                &random_token(),
                &address.to_string(),
                &state.settings.session_idle.as_secs_f64(),
            ],
        )
        .await?;
    let secure = if state.settings.secure_cookies() {
        "; Secure"
    } else {
        ""
    };
    HeaderValue::from_str(&format!(
        "{COOKIE}={token}; Path=/; HttpOnly; SameSite=Strict{secure}"
    ))
    .map_err(super::ConsoleError::from)
}

/// Only paths on this site: never `//host` or an absolute URL.
fn local_path(next: Option<&str>) -> String {
    match next {
        Some(n) if n.starts_with('/') && !n.starts_with("//") && !n.contains('\\') => n.to_owned(),
        _ => "/".to_owned(),
    }
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
    Ok(PAGES
        .render("login.html", None, "login", ctx! { next })?
        .into_response())
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
    if !state.settings.proxy_addresses.contains(&peer.ip()) {
        return Ok(None);
    }
    let Some(user) = headers.get(name).and_then(|v| v.to_str().ok()) else {
        return Ok(None);
    };
    let client = state.pool.get().await?;
    let row = client
        .query_opt(queries::USER_FIND, &[&user.trim()])
        .await?;
    Ok(row.map(|r| r.get("name")))
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
    let refuse = |status: StatusCode, error: &str| -> Result<Response> {
        Ok((
            status,
            PAGES.render(
                "login.html",
                None,
                "login",
                ctx! { next => next.clone(), error, name => form.name.clone() },
            )?,
        )
            .into_response())
    };
    if !state.limits.allow(&form.name, address) {
        tracing::warn!(%address, "console login rate limit reached");
        return refuse(
            StatusCode::TOO_MANY_REQUESTS,
            "Too many login attempts. Wait a minute and try again.",
        );
    }
    let client = state.pool.get().await?;
    let row = client
        .query_opt(queries::USER_FIND, &[&form.name.trim()])
        .await?;
    let hash: Option<String> = row.as_ref().and_then(|r| r.get("password_hash"));
    let password = form.password.clone();
    let candidate = hash.clone().unwrap_or_else(|| DUMMY_HASH.clone());
    let matches =
        tokio::task::spawn_blocking(move || users::verify_password(&password, &candidate))
            .await
            .unwrap_or(false);
    if !(matches && hash.is_some()) {
        return refuse(StatusCode::UNAUTHORIZED, "Wrong user name or password.");
    }
    let user: String = row.map(|r| r.get("name")).unwrap_or_default();
    let cookie = start(&state, &user, address).await?;
    tracing::info!(user = %user, "console login");
    Ok(([(header::SET_COOKIE, cookie)], Redirect::to(&next)).into_response())
}

/// `POST /logout`: the session row is deleted, so the cookie is worthless.
pub async fn logout(
    State(state): State<ConsoleState>,
    Extension(session): Extension<Session>,
) -> Result<Response> {
    let client = state.pool.get().await?;
    client
        .execute(queries::SESSION_DELETE, &[&session.token_hash])
        .await?;
    let expired = format!("{COOKIE}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0");
    Ok(([(header::SET_COOKIE, expired)], Redirect::to("/login")).into_response())
}
