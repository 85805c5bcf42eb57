//! One message's timeline: its enqueueing, every attempt, every provider
//! event and the chat message it became, in time order.

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::Value;
use tokio_postgres::Row;

use super::format::{stamp, time};
use super::{Result, queries};
use crate::db::Pg;
use crate::db::lenient::Timestamp;
use crate::message::AttemptResult;

/// One entry of the timeline.
#[derive(Serialize)]
pub struct Event {
    at: String,
    #[serde(skip)]
    sort: Timestamp,
    what: String,
    class: String,
    lines: Vec<(String, String)>,
}

fn line(label: &str, value: impl Into<String>) -> (String, String) {
    (label.to_owned(), value.into())
}

/// A time an application wrote into the message, read leniently: the page
/// shows whatever it holds.
pub fn lenient_stamp(m: &Row, column: &str) -> Option<Timestamp> {
    m.try_get::<_, Option<Timestamp>>(column).ok().flatten()
}

/// Message `id`'s timeline, `m` its row.
pub async fn timeline(client: &deadpool_postgres::Object, id: i64, m: &Row) -> Result<Vec<Event>> {
    let mut events = vec![enqueued(m)?];
    for a in client
        .pg_query(crate::db::statements::MESSAGE_ATTEMPTS, &[&id])
        .await?
    {
        events.push(attempt(&a)?);
    }
    for e in client.pg_query(queries::MESSAGE_EVENTS, &[&id]).await? {
        events.push(provider_event(&e)?);
    }
    for c in client.pg_query(queries::MESSAGE_CHAT, &[&id]).await? {
        events.push(chat(&c)?);
    }
    events.sort_by_key(|e| e.sort);
    Ok(events)
}

fn enqueued(m: &Row) -> Result<Event, tokio_postgres::Error> {
    let created =
        lenient_stamp(m, "created_at").unwrap_or(Timestamp::from(DateTime::<Utc>::UNIX_EPOCH));
    let key: Option<String> = m.try_get("idempotency_key")?;
    Ok(Event {
        at: stamp(created),
        sort: created,
        what: "enqueued".into(),
        class: "enqueue".into(),
        lines: [
            lenient_stamp(m, "run_at").map(|r| line("due", stamp(r))),
            key.map(|k| line("idempotency key", k)),
            lenient_stamp(m, "expires_at").map(|e| line("expires", stamp(e))),
        ]
        .into_iter()
        .flatten()
        .collect(),
    })
}

fn attempt(a: &Row) -> Result<Event, tokio_postgres::Error> {
    let started: DateTime<Utc> = a.try_get("started_at")?;
    let finished: Option<DateTime<Utc>> = a.try_get("finished_at")?;
    let outcome: AttemptResult = a.try_get("outcome")?;
    let provider: Option<String> = a.try_get("provider")?;
    let mut lines = vec![
        line("provider", provider.unwrap_or_default()),
        line("worker", a.try_get::<_, String>("worker")?),
    ];
    if let Some(f) = finished {
        lines.push(line(
            "duration",
            format!("{} ms", (f - started).num_milliseconds()),
        ));
    }
    for (label, column) in [
        ("provider code", "provider_code"),
        ("error", "error"),
        ("provider id", "provider_message_id"),
        ("note", "note"),
        ("late outcome", "late_outcome"),
    ] {
        if let Some(v) = a.try_get::<_, Option<String>>(column)? {
            lines.push(line(label, v));
        }
    }
    if !a.try_get::<_, bool>("applied")? {
        lines.push(line(
            "applied",
            "no: the message had been rescued or claimed again",
        ));
    }
    Ok(Event {
        at: time(started),
        sort: started.into(),
        what: format!("attempt {}: {outcome}", a.try_get::<_, i32>("attempt")?),
        class: format!("attempt {outcome}"),
        lines,
    })
}

fn provider_event(e: &Row) -> Result<Event, tokio_postgres::Error> {
    let received: DateTime<Utc> = e.try_get("received_at")?;
    let payload: Value = e.try_get("payload")?;
    let mut lines = vec![line("provider", e.try_get::<_, String>("provider")?)];
    if let Some(at) = e.try_get::<_, Option<DateTime<Utc>>>("occurred_at")? {
        lines.push(line("occurred", time(at)));
    }
    for key in ["reason", "response", "status", "ErrorCode", "MessageStatus"] {
        if let Some(v) = payload.get(key).and_then(|v| v.as_str()) {
            lines.push(line(key, v));
        }
    }
    if let Some(note) = e.try_get::<_, Option<String>>("note")? {
        lines.push(line("note", note));
    }
    Ok(Event {
        at: time(received),
        sort: received.into(),
        what: format!("provider event: {}", e.try_get::<_, String>("event")?),
        class: "event".into(),
        lines,
    })
}

fn chat(c: &Row) -> Result<Event, tokio_postgres::Error> {
    let at: DateTime<Utc> = c.try_get("created_at")?;
    let channel = format!(
        "{} ({})",
        c.try_get::<_, i64>("channel_id")?,
        c.try_get::<_, Option<String>>("owner")?.unwrap_or_default()
    );
    Ok(Event {
        at: time(at),
        sort: at.into(),
        what: format!("chat message {}", c.try_get::<_, i64>("id")?),
        class: "chat".into(),
        lines: vec![
            line("channel", channel),
            line("text", c.try_get::<_, String>("body")?),
        ],
    })
}
