//! What every console request passes through: first a Host the console
//! answers to (else 421); security headers on every response; a live
//! session for every page but the login form; and for every state-changing
//! request (always a POST) a same-origin check, the admin role and the
//! session's form token.

use std::net::SocketAddr;

use axum::body::{Body, to_bytes};
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};

use sha2::{Digest, Sha256};

use super::{ConsoleError, ConsoleState, Settings, auth};

/// Largest form body the console reads.
const FORM_LIMIT: usize = 256 * 1024;

/// The default policy: our own stylesheet and images, no scripts at all, no
/// framing by anyone, forms only to ourselves, frames only our preview.
const CSP: &str = "default-src 'none'; style-src 'self'; img-src 'self' data:; \
                   frame-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'";

/// The host a request names: its `Host` header, else the URI's authority
/// (HTTP/2), without the port.
pub fn request_host<'a>(
    headers: &'a HeaderMap,
    uri: Option<&'a axum::http::Uri>,
) -> Option<&'a str> {
    let authority = match headers.get(header::HOST) {
        Some(value) => value.to_str().ok()?,
        None => uri?.authority()?.as_str(),
    };
    if let Some(rest) = authority.strip_prefix('[') {
        // [IPv6]:port
        let (ip, after) = rest.split_once(']')?;
        return (after.is_empty() || after.starts_with(':')).then_some(ip);
    }
    Some(match authority.rsplit_once(':') {
        Some((host, port)) if port.bytes().all(|b| b.is_ascii_digit()) => host,
        _ => authority,
    })
}

/// Whether the console answers to `host`: an IP literal (a DNS rebinding
/// attack needs a name) or a name in `console.allowed_hosts`.
pub fn host_allowed(settings: &Settings, host: Option<&str>) -> bool {
    let Some(host) = host.filter(|h| !h.is_empty()) else {
        return false;
    };
    if host.parse::<std::net::IpAddr>().is_ok() {
        return true;
    }
    let name = host.strip_suffix('.').unwrap_or(host);
    settings
        .allowed_hosts
        .iter()
        .any(|allowed| allowed.eq_ignore_ascii_case(name))
}

/// Refuses, with 421 and before anything else runs, a request for a host
/// the console does not answer to.
pub async fn hosts(State(state): State<ConsoleState>, request: Request, next: Next) -> Response {
    if host_allowed(
        &state.settings,
        request_host(request.headers(), Some(request.uri())),
    ) {
        return next.run(request).await;
    }
    tracing::debug!("console: request for a host not in console.allowed_hosts refused");
    (
        StatusCode::MISDIRECTED_REQUEST,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        "421 Misdirected Request: this console does not answer to that host name \
         (console.allowed_hosts)\n",
    )
        .into_response()
}

/// Adds the security headers a response does not set itself.
pub async fn security_headers(request: Request, next: Next) -> Response {
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    for (name, value) in [
        (header::CONTENT_SECURITY_POLICY, CSP),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::X_FRAME_OPTIONS, "DENY"),
        (header::REFERRER_POLICY, "same-origin"),
        (header::CACHE_CONTROL, "no-store"),
    ] {
        if !headers.contains_key(&name) {
            headers.insert(name, HeaderValue::from_static(value));
        }
    }
    response
}

/// True when the request says it comes from a page of this console: an
/// `Origin` naming this host, or `Sec-Fetch-Site: same-origin`; a request
/// with neither is refused.
pub fn same_origin(headers: &HeaderMap) -> bool {
    let site = headers.get("sec-fetch-site").and_then(|v| v.to_str().ok());
    if site.is_some_and(|s| s != "same-origin") {
        return false;
    }
    let host = headers.get(header::HOST).and_then(|v| v.to_str().ok());
    match headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()) {
        Some(origin) => {
            let authority = origin
                .strip_prefix("http://")
                .or_else(|| origin.strip_prefix("https://"));
            matches!((authority, host), (Some(a), Some(h)) if a.eq_ignore_ascii_case(h))
        }
        None => site == Some("same-origin"),
    }
}

fn refuse(reason: &'static str) -> Response {
    ConsoleError::Forbidden(reason).into_response()
}

/// Finds the session and enforces the rules above.
pub async fn guard(State(state): State<ConsoleState>, request: Request, next: Next) -> Response {
    let path = request.uri().path().to_owned();
    let changing = !matches!(*request.method(), Method::GET | Method::HEAD);
    if changing && !same_origin(request.headers()) {
        tracing::warn!(
            path,
            "console: state-changing request from another origin refused"
        );
        return refuse("This request did not come from a console page (origin check failed).");
    }
    if path == "/login" || path == "/static/console.css" {
        return next.run(request).await;
    }
    let peer = request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0);
    let address = auth::client_address(&state.settings, peer, request.headers());
    let session = match auth::find(&state, request.headers(), address).await {
        Ok(Some(session)) => session,
        Ok(None) if changing => return refuse("Sign in first."),
        Ok(None) => {
            let next_path = request
                .uri()
                .path_and_query()
                .map_or("/", |p| p.as_str())
                .to_owned();
            let query = serde_urlencoded::to_string([("next", next_path)]).unwrap_or_default();
            return Redirect::to(&format!("/login?{query}")).into_response();
        }
        Err(e) => return e.into_response(),
    };
    if !changing {
        let mut request = request;
        request.extensions_mut().insert(session);
        return next.run(request).await;
    }
    if path != "/logout" && !session.is_admin() {
        return refuse("Viewers cannot change anything.");
    }
    let (mut parts, body) = request.into_parts();
    let Ok(bytes) = to_bytes(body, FORM_LIMIT).await else {
        return (StatusCode::PAYLOAD_TOO_LARGE, "form too large").into_response();
    };
    let token = serde_urlencoded::from_bytes::<Vec<(String, String)>>(&bytes)
        .ok()
        .and_then(|fields| {
            fields
                .into_iter()
                .find(|(k, _)| k == "csrf")
                .map(|(_, v)| v)
        });
    // Compared as SHA-256 digests: equal-length inputs, no early exit on the secret.
    let valid = token
        .is_some_and(|t| Sha256::digest(t.as_bytes()) == Sha256::digest(session.csrf.as_bytes()));
    if !valid {
        tracing::warn!(path, user = %session.user, "console: POST without a valid form token refused");
        return refuse("The form token is missing or stale: reload the page and try again.");
    }
    parts.extensions.insert(session);
    next.run(Request::from_parts(parts, Body::from(bytes)))
        .await
}
