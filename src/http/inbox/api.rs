//! The inbox's JSON endpoints, for the token's user only: their channels
//! with unread counts, a channel's messages in keyset pages (newest first,
//! `?before=<id>&limit=<n>`), marking a channel read, and posting a
//! plain-text message to a channel they belong to (the other members are
//! pushed as for any chat message). A channel that is not theirs is 404.

use axum::Json;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::json;

use super::{AppState, ENDPOINT, Reader, error};
use crate::db::DbError;
use crate::http::body;
use crate::inbox::queries;

/// Largest body of a posted message, in bytes.
pub const POST_LIMIT: usize = 16 * 1024;
/// Most messages a page holds, and how many without `limit`.
const PAGE_MAX: i32 = 200;
const PAGE_DEFAULT: i32 = 50;

fn failed(state: &AppState, e: &DbError) -> Response {
    state.metrics.request(ENDPOINT, "error");
    tracing::error!(error = %e, "an inbox request failed");
    error(
        StatusCode::SERVICE_UNAVAILABLE,
        "the database is not available",
    )
}

fn no_channel(state: &AppState) -> Response {
    state.metrics.request(ENDPOINT, "not_found");
    error(StatusCode::NOT_FOUND, "no such channel")
}

/// `GET /inbox/channels`.
pub async fn channels(State(state): State<AppState>, reader: Reader) -> Response {
    let Reader { hub, claims, .. } = reader;
    let result = async {
        let client = hub.pool().get().await?;
        queries::channels(&**client, &claims.user).await
    }
    .await;
    match result {
        Ok(channels) => {
            state.metrics.request(ENDPOINT, "ok");
            Json(json!({ "channels": channels })).into_response()
        }
        Err(e) => failed(&state, &e),
    }
}

/// `GET /inbox/channels/{channel}/messages?before=ID&limit=N`: `messages`
/// newest first, and `next_before` for the next (older) page.
pub async fn messages(
    State(state): State<AppState>,
    Path(channel): Path<i64>,
    reader: Reader,
) -> Response {
    let Reader {
        hub,
        claims,
        params,
    } = reader;
    let limit = params.limit.unwrap_or(PAGE_DEFAULT).clamp(1, PAGE_MAX);
    let result = async {
        let client = hub.pool().get().await?;
        if !queries::is_member(&**client, &claims.user, channel).await? {
            return Ok(None);
        }
        queries::page(&**client, &claims.user, channel, params.before, limit)
            .await
            .map(Some)
    }
    .await;
    match result {
        Ok(Some(messages)) => {
            state.metrics.request(ENDPOINT, "ok");
            let next_before = (messages.len() == limit as usize)
                .then(|| messages.last().map(|m| m.id))
                .flatten();
            Json(json!({ "messages": messages, "next_before": next_before })).into_response()
        }
        Ok(None) => no_channel(&state),
        Err(e) => failed(&state, &e),
    }
}

/// `POST /inbox/channels/{channel}/read`: `{"marked": <how many were unread>}`.
pub async fn mark_read(
    State(state): State<AppState>,
    Path(channel): Path<i64>,
    reader: Reader,
) -> Response {
    let Reader { hub, claims, .. } = reader;
    let result = async {
        let client = hub.pool().get().await?;
        if !queries::is_member(&**client, &claims.user, channel).await? {
            return Ok(None);
        }
        queries::mark_read(&**client, &claims.user, channel)
            .await
            .map(Some)
    }
    .await;
    match result {
        Ok(Some(marked)) => {
            state.metrics.request(ENDPOINT, "ok");
            Json(json!({ "marked": marked })).into_response()
        }
        Ok(None) => no_channel(&state),
        Err(e) => failed(&state, &e),
    }
}

/// What `POST /inbox/channels/{channel}/messages` takes.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct NewMessage {
    body: String,
}

/// `POST /inbox/channels/{channel}/messages` with `{"body": "…"}`: 201 and
/// the stored message.
pub async fn post(
    State(state): State<AppState>,
    Path(channel): Path<i64>,
    reader: Reader,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let Reader { hub, claims, .. } = reader;
    let held = match body::read(&state.bodies, &headers, body, POST_LIMIT).await {
        Ok(held) => held,
        Err(e) => {
            state.metrics.request(ENDPOINT, e.result());
            return e.into_response();
        }
    };
    let text = match serde_json::from_slice::<NewMessage>(&held.bytes) {
        Ok(m) if m.body.trim().is_empty() => {
            return error(StatusCode::BAD_REQUEST, "the body must not be empty");
        }
        Ok(m) if m.body.contains('\0') => {
            return error(StatusCode::BAD_REQUEST, "the body must not contain NUL");
        }
        Ok(m) => m.body,
        Err(_) => {
            state.metrics.request(ENDPOINT, "invalid");
            return error(
                StatusCode::BAD_REQUEST,
                "expected a JSON object {\"body\": \"…\"}",
            );
        }
    };
    let result = async {
        let client = hub.pool().get().await?;
        queries::post(&**client, &claims.user, channel, &text).await
    }
    .await;
    match result {
        Ok(Some(message)) => {
            state.metrics.request(ENDPOINT, "posted");
            (StatusCode::CREATED, Json(message)).into_response()
        }
        Ok(None) => no_channel(&state),
        Err(e) => failed(&state, &e),
    }
}
