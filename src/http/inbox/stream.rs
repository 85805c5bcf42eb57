//! `GET /inbox/stream`: one user's Server-Sent Events. `message` (a new chat
//! message in one of their channels), `unread` (a channel's unread count),
//! `read` (their read mark moved), and `gap` when more was missed than
//! `inbox.replay_limit` replays. A message event's id is `<message
//! id>/<snapshot>`: the snapshot sees every message the stream has sent, so
//! a stream opened with it as `Last-Event-ID` first replays exactly the
//! messages committed since, whatever order their ids were taken in (a bare
//! message id, as sent before, replays the messages after it). Every stream
//! starts with each channel's unread count. It ends when the token expires
//! or the daemon stops; a comment line every `inbox.heartbeat` keeps it open.

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
use crate::inbox::queries::{self, ChatMessage, Since};
use crate::inbox::{Handout, Hub, Snapshot, SubscribeError, Subscription};

/// How long replayed ids are remembered, so that their live copies (the
/// notifications of messages committed while the replay read) are skipped.
const REMEMBER_REPLAYED: Duration = Duration::from_secs(30);
/// What an EventSource waits before it reconnects.
const RETRY: Duration = Duration::from_secs(2);

/// Opens the stream (401 without a valid token, 503 or 429 beyond the caps).
pub async fn open(State(state): State<AppState>, reader: Reader, headers: HeaderMap) -> Response {
    let Reader { hub, claims, .. } = reader;
    let since = match headers.get("last-event-id").map(last_event_id) {
        None => None,
        Some(Some(since)) => Some(since),
        Some(None) => {
            state.metrics.request(ENDPOINT, "bad_request");
            return error(
                StatusCode::BAD_REQUEST,
                "Last-Event-ID is not an event id this stream sent",
            );
        }
    };
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
        since,
        sent_through: None,
        joined: false,
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
    /// Where the client resumes (its `Last-Event-ID`), until the first sync.
    since: Option<Since>,
    /// A snapshot that sees every message sent (or there when the stream opened).
    sent_through: Option<Snapshot>,
    /// Whether the reads begun before the stream joined are handed out.
    joined: bool,
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
        if s.subscription.lagged.swap(false, Ordering::SeqCst) {
            // Something after this was dropped: read it all from the
            // database, this included.
            s.sync = true;
            continue;
        }
        s.take(handout);
    }
}

/// A `Last-Event-ID`: `<message id>/<snapshot>` as this stream sends, or a
/// bare message id (as sent before migration 0030; 0: everything).
fn last_event_id(value: &HeaderValue) -> Option<Since> {
    let text = value.to_str().ok()?.trim();
    match text.split_once('/') {
        Some((id, snapshot)) => {
            id.parse::<i64>().ok().filter(|id| *id >= 0)?;
            Snapshot::parse(snapshot).map(Since::Snapshot)
        }
        None => text
            .parse::<i64>()
            .ok()
            .filter(|id| *id >= 0)
            .map(Since::Id),
    }
}

impl Streaming {
    fn take(&mut self, handout: Handout) {
        match handout {
            Handout::Messages { messages, through } => {
                if self.replayed_at.elapsed() > REMEMBER_REPLAYED {
                    self.replayed = Vec::new();
                }
                let fresh: Vec<&ChatMessage> = messages
                    .iter()
                    .map(|(m, _)| &**m)
                    .filter(|m| !self.replayed.contains(&m.id))
                    .collect();
                self.push_messages(&fresh, &through);
                for (m, unread) in &messages {
                    self.push(
                        "unread",
                        json!({ "channel_id": m.channel_id, "unread": unread }),
                    );
                }
            }
            Handout::Read(state) => self.push("read", json!(state)),
            Handout::Resync => self.sync = true,
        }
    }

    fn push(&mut self, name: &str, data: serde_json::Value) {
        self.pending
            .push_back(Event::default().event(name).data(data.to_string()));
    }

    /// `messages`, all of what a read through `through` had for this
    /// stream: each event's id names what was sent before it, the last's
    /// `through` itself.
    fn push_messages(&mut self, messages: &[&ChatMessage], through: &Snapshot) {
        let before = self.sent_through.clone();
        self.sent_through = Some(match self.sent_through.take() {
            Some(sent) => sent.later(through.clone()),
            None => through.clone(),
        });
        for (i, m) in messages.iter().enumerate() {
            let resume = if i + 1 == messages.len() {
                self.sent_through.as_ref()
            } else {
                before.as_ref()
            };
            let mut event = Event::default().event("message");
            if let Some(resume) = resume {
                event = event.id(format!("{}/{resume}", m.id));
            }
            let data = serde_json::to_string(m).unwrap_or_default();
            self.pending.push_back(event.data(data));
        }
    }

    /// The messages committed since what was sent (or since
    /// `Last-Event-ID`; the newest `replay_limit`, after a `gap` event when
    /// there were more), then every channel's unread count.
    async fn resync(&mut self) -> Result<(), DbError> {
        if !self.joined {
            if !self.hub.joined(&self.subscription).await {
                return Err(DbError::Unexpected(
                    "the inbox's reads did not catch up".to_owned(),
                ));
            }
            self.joined = true;
        }
        let client = self.hub.pool().get().await?;
        let since = match (self.sent_through.clone(), self.since.take()) {
            (Some(sent), _) => Some(Since::Snapshot(sent)),
            (None, since) => since,
        };
        match since {
            None => self.sent_through = Some(queries::cursor(&**client).await?),
            Some(since) => {
                let limit = self.hub.settings().replay_limit;
                let wanted = i32::try_from(limit + 1).unwrap_or(i32::MAX);
                let read = queries::replay(&**client, &self.user, &since, wanted).await?;
                let mut missed = read.rows;
                let after = match &since {
                    Since::Id(id) => Some(*id),
                    Since::Snapshot(_) => None,
                };
                if missed.len() > limit {
                    missed.remove(0);
                    let before = missed.first().map(|m| m.id);
                    self.push("gap", json!({ "after": after, "before": before }));
                }
                self.replayed = missed.iter().map(|m| m.id).collect();
                self.replayed_at = Instant::now();
                let missed: Vec<&ChatMessage> = missed.iter().collect();
                if let Since::Snapshot(since) = since {
                    self.sent_through = Some(since);
                }
                self.push_messages(&missed, &read.snapshot);
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
