//! `GET /inbox/stream`: one user's Server-Sent Events. `message` (a new chat
//! message in one of their channels, its id the event id), `unread` (a
//! channel's unread count), `read` (their read mark moved), and `gap` when
//! more was missed than `inbox.replay_limit` replays. A stream opened with
//! `Last-Event-ID` first replays the messages after it; every stream starts
//! with each channel's unread count. It ends when the token expires or the
//! daemon stops; a comment line every `inbox.heartbeat` keeps it open.

use std::collections::VecDeque;
use std::convert::Infallible;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::{AppState, ENDPOINT, Reader, error};
use crate::db::DbError;
use crate::inbox::queries::{self, ChatMessage};
use crate::inbox::{Handout, Hub, SubscribeError, Subscription};

/// How long replayed ids are remembered, so that their live copies (the
/// notifications of messages committed while the replay read) are skipped.
const REMEMBER_REPLAYED: Duration = Duration::from_secs(30);
/// What an EventSource waits before it reconnects.
const RETRY: Duration = Duration::from_secs(2);

/// Opens the stream (401 without a valid token, 503 or 429 beyond the caps).
pub async fn open(State(state): State<AppState>, reader: Reader, headers: HeaderMap) -> Response {
    let Reader { hub, claims, .. } = reader;
    let last_event_id = headers
        .get("last-event-id")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<i64>().ok())
        .filter(|id| *id >= 0);
    let subscription = match hub.subscribe(&claims.user) {
        Ok(s) => s,
        Err(e) => {
            state.metrics.request(ENDPOINT, "too_many");
            let status = match e {
                SubscribeError::Full => StatusCode::SERVICE_UNAVAILABLE,
                SubscribeError::UserFull => StatusCode::TOO_MANY_REQUESTS,
            };
            let mut response = error(status, &e.to_string());
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static("5"));
            return response;
        }
    };
    state.metrics.request(ENDPOINT, "stream");
    let now = chrono::Utc::now().timestamp();
    let lifetime = Duration::from_secs(u64::try_from(claims.expires - now).unwrap_or(0));
    let heartbeat = hub.settings().heartbeat;
    let stream = Streaming {
        pending: VecDeque::from([Event::default().retry(RETRY).comment("outpost inbox")]),
        cursor: last_event_id,
        sync: true,
        replayed: Vec::new(),
        replayed_at: Instant::now(),
        ends: tokio::time::Instant::now() + lifetime,
        user: claims.user,
        hub,
        subscription,
    };
    let events = futures_util::stream::unfold(stream, next);
    let mut response = Sse::new(events)
        .keep_alive(KeepAlive::new().interval(heartbeat).text(""))
        .into_response();
    // Proxies such as nginx buffer responses unless told not to.
    response
        .headers_mut()
        .insert("x-accel-buffering", HeaderValue::from_static("no"));
    response
}

/// One open stream's state.
struct Streaming {
    hub: Arc<Hub>,
    subscription: Subscription,
    user: String,
    /// Events ready to send.
    pending: VecDeque<Event>,
    /// The newest message id sent (or known at the start).
    cursor: Option<i64>,
    /// Read what was missed from the database before the next handout.
    sync: bool,
    replayed: Vec<i64>,
    replayed_at: Instant,
    ends: tokio::time::Instant,
}

async fn next(mut s: Streaming) -> Option<(Result<Event, Infallible>, Streaming)> {
    loop {
        if let Some(event) = s.pending.pop_front() {
            return Some((Ok(event), s));
        }
        if s.sync {
            if let Err(e) = s.resync().await {
                tracing::warn!(error = %e, "an inbox stream could not read what it missed; closing it");
                return None;
            }
            s.sync = false;
            continue;
        }
        let handout = tokio::select! {
            biased;
            () = s.hub.stopping().cancelled() => return None,
            () = tokio::time::sleep_until(s.ends) => return None,
            h = s.subscription.rx.recv() => h?,
        };
        s.take(handout);
        if s.subscription.lagged.swap(false, Ordering::SeqCst) {
            s.sync = true;
        }
    }
}

impl Streaming {
    fn take(&mut self, handout: Handout) {
        match handout {
            Handout::Message(m) => {
                if self.replayed_at.elapsed() > REMEMBER_REPLAYED {
                    self.replayed = Vec::new();
                }
                if !self.replayed.contains(&m.id) {
                    self.push_message(&m);
                }
            }
            Handout::Unread { channel_id, unread } => self.push(
                "unread",
                json!({ "channel_id": channel_id, "unread": unread }),
            ),
            Handout::Read(state) => self.push("read", json!(state)),
            Handout::Resync => self.sync = true,
        }
    }

    fn push(&mut self, name: &str, data: serde_json::Value) {
        self.pending
            .push_back(Event::default().event(name).data(data.to_string()));
    }

    fn push_message(&mut self, m: &ChatMessage) {
        let data = serde_json::to_string(m).unwrap_or_default();
        self.pending.push_back(
            Event::default()
                .event("message")
                .id(m.id.to_string())
                .data(data),
        );
        self.cursor = Some(self.cursor.map_or(m.id, |c| c.max(m.id)));
    }

    /// The messages after the cursor (the newest `replay_limit`, after a
    /// `gap` event when there were more), then every channel's unread count.
    async fn resync(&mut self) -> Result<(), DbError> {
        let client = self.hub.pool().get().await?;
        match self.cursor {
            None => self.cursor = Some(queries::cursor(&**client).await?),
            Some(after) => {
                let limit = self.hub.settings().replay_limit;
                let wanted = i32::try_from(limit + 1).unwrap_or(i32::MAX);
                let mut missed = queries::replay(&**client, &self.user, after, wanted).await?;
                if missed.len() > limit {
                    missed.remove(0);
                    let before = missed.first().map(|m| m.id);
                    self.push("gap", json!({ "after": after, "before": before }));
                }
                self.replayed = missed.iter().map(|m| m.id).collect();
                self.replayed_at = Instant::now();
                for m in &missed {
                    self.push_message(m);
                }
            }
        }
        for channel in queries::channels(&**client, &self.user).await? {
            self.push(
                "unread",
                json!({ "channel_id": channel.channel_id, "unread": channel.unread }),
            );
        }
        Ok(())
    }
}
