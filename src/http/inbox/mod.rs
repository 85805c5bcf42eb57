//! The real-time inbox on the HTTP listener: `GET /inbox/stream` (Server-Sent
//! Events, `stream`) and the JSON endpoints under `/inbox/channels` (`api`),
//! each for the one user an `outpost.inbox_token` names, sent as
//! `Authorization: Bearer …` or `?token=`. A missing, bad or expired token is
//! answered 401 before any body is read. Cross-origin requests are allowed
//! for `inbox.allowed_origins` only.

mod api;
mod stream;

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderName, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::Deserialize;
use tower_http::cors::{AllowOrigin, CorsLayer};

use super::AppState;
use crate::config::InboxSettings;
use crate::inbox::{Claims, Hub};

const ENDPOINT: &str = "inbox";

/// The inbox's routes, with CORS for the configured origins.
pub fn routes(settings: &InboxSettings) -> Router<AppState> {
    let router = Router::new()
        .route("/inbox/stream", get(stream::open))
        .route("/inbox/channels", get(api::channels))
        .route(
            "/inbox/channels/{channel}/messages",
            get(api::messages).post(api::post),
        )
        .route("/inbox/channels/{channel}/read", post(api::mark_read));
    if settings.allowed_origins.is_empty() {
        return router;
    }
    let origins: Vec<HeaderValue> = settings
        .allowed_origins
        .iter()
        .filter_map(|o| HeaderValue::from_str(o).ok())
        .collect();
    router.layer(
        CorsLayer::new()
            .allow_origin(AllowOrigin::list(origins))
            .allow_methods([Method::GET, Method::POST])
            .allow_headers([
                header::AUTHORIZATION,
                header::CONTENT_TYPE,
                HeaderName::from_static("last-event-id"),
            ])
            .max_age(Duration::from_secs(600)),
    )
}

/// The query parameters any inbox endpoint reads.
#[derive(Debug, Default, Deserialize)]
struct Params {
    token: Option<String>,
    before: Option<i64>,
    limit: Option<i32>,
}

/// A JSON error body with `status`.
fn error(status: StatusCode, message: &str) -> Response {
    (status, axum::Json(serde_json::json!({ "error": message }))).into_response()
}

/// The user a request is for: the hub, the token's claims and the query's
/// parameters. As an extractor it answers 404 when the inbox is off and 401
/// for a missing, bad or expired token, before any body is read.
struct Reader {
    hub: Arc<Hub>,
    claims: Claims,
    params: Params,
}

impl FromRequestParts<AppState> for Reader {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        if state.inboxes.is_empty() {
            return Err(error(StatusCode::NOT_FOUND, "the inbox is not enabled"));
        }
        let params: Params = match parts.uri.query() {
            Some(q) => serde_urlencoded::from_str(q)
                .map_err(|_| error(StatusCode::BAD_REQUEST, "malformed query string"))?,
            None => Params::default(),
        };
        let bearer = parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .map(str::trim);
        let Some(token) = bearer.or(params.token.as_deref()) else {
            state.metrics.request(ENDPOINT, "unauthorized");
            return Err(unauthorized("an inbox token is required"));
        };
        // Each database signs with keys of its own: the one hub whose keys
        // verify the token serves it. A key two databases share (one
        // created as a copy of the other) names no database: refused.
        let mut refusal = None;
        let mut verified = Vec::new();
        for hub in &state.inboxes {
            match hub.verify(token).await {
                Ok(claims) => verified.push((hub.clone(), claims)),
                Err(e) => {
                    refusal.get_or_insert(e.to_string());
                }
            }
        }
        if verified.len() == 1 {
            let (hub, claims) = verified.remove(0);
            return Ok(Reader {
                hub,
                claims,
                params,
            });
        }
        state.metrics.request(ENDPOINT, "unauthorized");
        let reason = if verified.is_empty() {
            refusal.unwrap_or_default()
        } else {
            "its key is shared by several databases; run `outpost inbox rotate-key` in each"
                .to_owned()
        };
        Err(unauthorized(&format!(
            "this inbox token is not valid ({reason})"
        )))
    }
}

fn unauthorized(message: &str) -> Response {
    let mut response = error(StatusCode::UNAUTHORIZED, message);
    response
        .headers_mut()
        .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
    response
}
