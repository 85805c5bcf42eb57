//! What every console request passes through: first a Host the console
//! answers to (else 421); security headers on every response; and for every
//! state-changing request (always a POST) a same-origin check. The session
//! is `session`'s layer, the role and the form token the handlers' extractors
//! (`session::Admin`, `csrf::CsrfForm`).

use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::{ConsoleError, ConsoleState, Settings};

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

/// Refuses, before any session is looked up, a state-changing request (any
/// method but GET and HEAD, login included) that does not come from a page
/// of this console.
pub async fn origin(request: Request, next: Next) -> Response {
    let changing = !matches!(*request.method(), Method::GET | Method::HEAD);
    if changing && !same_origin(request.headers()) {
        tracing::warn!(
            path = request.uri().path(),
            "console: state-changing request from another origin refused"
        );
        return ConsoleError::Forbidden(
            "This request did not come from a console page (origin check failed).",
        )
        .into_response();
    }
    next.run(request).await
}
