//! `GET /messages/{id}`: the message, its rendered preview and one timeline
//! of enqueue, attempts, provider events and the chat message it became;
//! `POST /messages/{id}/retry|cancel` call `outpost.retry` / `outpost.cancel`.

use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::{Value, json};

use super::audit::{self, Action, Change, Outcome};
use super::csrf::Csrf;
use super::format::{stamp, time};
use super::pages::PAGES;
use super::pages::{self, ActionResult};
use super::session::{Admin, Session};
use super::{ConsoleError, ConsoleState, Result, queries};
use crate::channel::Envelope;
use crate::db::lenient::{Json, Timestamp};
use crate::message::{ClaimedMessage, Kind, MessageId, Recipient, Status};

/// The preview may show inline styles and data: images; nothing else loads,
/// no script runs, and it may only be framed by the console itself.
const PREVIEW_CSP: &str = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; \
                           font-src data:; sandbox; frame-ancestors 'self'";

#[derive(Serialize)]
struct Event {
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

/// `GET /messages/{id}`.
pub async fn page(
    State(state): State<ConsoleState>,
    session: Session,
    Path(id): Path<i64>,
) -> Result<Html<String>> {
    let client = state.pool.get().await?;
    let m = queries::found(&client, queries::MESSAGE, &[&id]).await?;
    // The message's own times and JSON are read leniently: an application
    // wrote them, and the page shows whatever they hold.
    let stamp_of = |c: &str| m.try_get::<_, Option<Timestamp>>(c).ok().flatten();
    let created = stamp_of("created_at").unwrap_or(Timestamp::from(DateTime::<Utc>::UNIX_EPOCH));
    let run_at = stamp_of("run_at");
    let mut timeline = vec![Event {
        at: stamp(created),
        sort: created,
        what: "enqueued".into(),
        class: "enqueue".into(),
        lines: [
            run_at.map(|r| line("due", stamp(r))),
            m.get::<_, Option<String>>("idempotency_key")
                .map(|k| line("idempotency key", k)),
            stamp_of("expires_at").map(|e| line("expires", stamp(e))),
        ]
        .into_iter()
        .flatten()
        .collect(),
    }];
    for a in client.query(statements_attempts(), &[&id]).await? {
        let started: DateTime<Utc> = a.get("started_at");
        let finished: Option<DateTime<Utc>> = a.get("finished_at");
        let outcome: String = a.get("outcome");
        let mut lines = vec![
            line(
                "provider",
                a.get::<_, Option<String>>("provider").unwrap_or_default(),
            ),
            line("worker", a.get::<_, String>("worker")),
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
            if let Some(v) = a.get::<_, Option<String>>(column) {
                lines.push(line(label, v));
            }
        }
        if !a.get::<_, bool>("applied") {
            lines.push(line(
                "applied",
                "no: the message had been rescued or claimed again",
            ));
        }
        timeline.push(Event {
            at: time(started),
            sort: started.into(),
            what: format!("attempt {}: {outcome}", a.get::<_, i32>("attempt")),
            class: format!("attempt {outcome}"),
            lines,
        });
    }
    for e in client.query(queries::MESSAGE_EVENTS, &[&id]).await? {
        let received: DateTime<Utc> = e.get("received_at");
        let payload: Value = e.get("payload");
        let mut lines = vec![line("provider", e.get::<_, String>("provider"))];
        if let Some(at) = e.get::<_, Option<DateTime<Utc>>>("occurred_at") {
            lines.push(line("occurred", time(at)));
        }
        for key in ["reason", "response", "status", "ErrorCode", "MessageStatus"] {
            if let Some(v) = payload.get(key).and_then(|v| v.as_str()) {
                lines.push(line(key, v));
            }
        }
        if let Some(note) = e.get::<_, Option<String>>("note") {
            lines.push(line("note", note));
        }
        timeline.push(Event {
            at: time(received),
            sort: received.into(),
            what: format!("provider event: {}", e.get::<_, String>("event")),
            class: "event".into(),
            lines,
        });
    }
    for c in client.query(queries::MESSAGE_CHAT, &[&id]).await? {
        let at: DateTime<Utc> = c.get("created_at");
        timeline.push(Event {
            at: time(at),
            sort: at.into(),
            what: format!("chat message {}", c.get::<_, i64>("id")),
            class: "chat".into(),
            lines: vec![
                line(
                    "channel",
                    format!(
                        "{} ({})",
                        c.get::<_, i64>("channel_id"),
                        c.get::<_, Option<String>>("owner").unwrap_or_default()
                    ),
                ),
                line("text", c.get::<_, String>("body")),
            ],
        });
    }
    timeline.sort_by_key(|e| e.sort);

    let status: Status = m.try_get("status")?;
    let kind: String = m.get("kind");
    let opt = |c: &str| m.get::<_, Option<String>>(c);
    let fields: Vec<(String, String)> = [
        ("kind", Some(kind.clone())),
        ("status", Some(status.to_string())),
        ("to user", opt("to_user")),
        ("to address", opt("to_address")),
        ("tenant", opt("tenant")),
        ("template", opt("template")),
        ("locale", opt("locale")),
        ("subject", opt("subject")),
        ("provider (forced)", opt("provider")),
        (
            "attempts",
            Some(format!(
                "{} of {}",
                m.get::<_, i32>("attempts"),
                m.get::<_, Option<i32>>("max_attempts").map_or_else(
                    || state.config.retry.max_attempts.to_string(),
                    |n| n.to_string()
                )
            )),
        ),
        ("deferrals", Some(m.get::<_, i32>("deferrals").to_string())),
        ("provider id", opt("provider_message_id")),
        ("last error", opt("last_error")),
        ("worker", opt("worker")),
        ("sent", stamp_of("sent_at").map(stamp)),
        ("finished", stamp_of("finished_at").map(stamp)),
    ]
    .into_iter()
    .filter_map(|(k, v)| v.map(|v| (k.to_owned(), v)))
    .collect();
    let json_of = |c: &str| {
        m.try_get::<_, Json>(c)
            .map_or_else(|e| format!("(cannot read {c}: {e})"), |j| j.pretty())
    };
    let context = json_of("context");
    let options = json_of("options");
    PAGES.render(
        "message.html",
        Some(&session),
        "messages",
        ctx! {
            id,
            kind,
            status => status.as_str(),
            fields,
            possible_duplicate => m.get::<_, bool>("possible_duplicate"),
            context,
            options,
            body => opt("body"),
            timeline,
            can_retry => status.can_retry(),
            can_cancel => status.can_cancel(),
        },
    )
}

fn statements_attempts() -> &'static str {
    crate::db::statements::MESSAGE_ATTEMPTS
}

/// `GET /messages/{id}/preview`: the e-mail as rendered now (template,
/// literal HTML or the simple mail), served with a CSP that forbids every
/// remote load and script; the page frames it in a sandboxed iframe.
pub async fn preview(State(state): State<ConsoleState>, Path(id): Path<i64>) -> Result<Response> {
    let client = state.pool.get().await?;
    let m = queries::found(&client, queries::MESSAGE, &[&id]).await?;
    let kind: Kind = m.try_get("kind")?;
    let to_user: Option<String> = m.try_get("to_user")?;
    let recipient = match &to_user {
        Some(user) => client
            .query_opt(&queries::recipient(&state.config.recipients), &[user])
            .await
            .ok()
            .flatten()
            .map(|r| Recipient {
                user_id: r.try_get("user_id").ok().flatten().unwrap_or_default(),
                email: r.try_get("email").ok().flatten().unwrap_or_default(),
                phone: r.try_get("phone").ok().flatten().unwrap_or_default(),
                locale: r.try_get("locale").ok().flatten().unwrap_or_default(),
                timezone: r.try_get("timezone").ok().flatten().unwrap_or_default(),
                tenant: r.try_get("tenant").ok().flatten().unwrap_or_default(),
                push_named_user: r
                    .try_get("push_named_user")
                    .ok()
                    .flatten()
                    .unwrap_or_default(),
                name: r.try_get("name").ok().flatten().unwrap_or_default(),
            }),
        None => None,
    };
    let locale = m
        .try_get::<_, Option<String>>("locale")?
        .or_else(|| recipient.as_ref().and_then(|r| r.locale.clone()))
        .unwrap_or_else(|| state.config.default_locale.clone());
    let message = ClaimedMessage {
        id: MessageId(id),
        attempt: m.try_get("attempts")?,
        kind,
        to_user,
        to_address: m.try_get("to_address")?,
        template: m.try_get("template")?,
        context: m.try_get("context")?,
        locale: m.try_get("locale")?,
        subject: m.try_get("subject")?,
        body: m.try_get("body")?,
        html: m.try_get("html")?,
        options: m.try_get("options")?,
        provider: m.try_get("provider")?,
        tenant: m.try_get("tenant")?,
        max_attempts: m.try_get("max_attempts")?,
        expires_at: m.try_get("expires_at")?,
        created_at: m.try_get("created_at")?,
        recipient,
        suppressed: Vec::new(),
        lease_deadline: std::time::Instant::now(),
        controls: Default::default(),
    };
    let envelope = Envelope {
        to: message.to_address.clone().unwrap_or_default(),
        message,
        locale,
    };
    let html = if kind == Kind::Email {
        match crate::channel::email::render(&state.templates.get(), &envelope) {
            Ok(rendered) => rendered.html,
            Err(e) => {
                PAGES
                    .render(
                        "bare.html",
                        None,
                        "",
                        ctx! { title => "Cannot render this e-mail", text => e.message },
                    )?
                    .0
            }
        }
    } else {
        PAGES
            .render(
                "bare.html",
                None,
                "",
                ctx! {
                    title => format!("{kind} message"),
                    text => envelope.message.body.clone().unwrap_or_default(),
                },
            )?
            .0
    };
    Ok((
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (header::CONTENT_SECURITY_POLICY, PREVIEW_CSP),
            (header::X_FRAME_OPTIONS, "SAMEORIGIN"),
        ],
        html,
    )
        .into_response())
}

/// What an operator does to one message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Act {
    Retry,
    Cancel,
}

impl Act {
    fn action(self) -> Action {
        match self {
            Act::Retry => Action::MessageRetry,
            Act::Cancel => Action::MessageCancel,
        }
    }

    /// What the result page says: done, or why not (the status it had).
    fn result(self, id: i64, done: bool, before: &str) -> ActionResult {
        match (self, done) {
            (Act::Retry, true) => ActionResult::done(format!(
                "Message {id} is queued again with 3 more attempts."
            )),
            (Act::Retry, false) => ActionResult::failed(
                StatusCode::OK,
                format!(
                    "Message {id} is {before}: only a finished, unsent message can be retried."
                ),
            ),
            (Act::Cancel, true) => ActionResult::done(format!("Message {id} is cancelled.")),
            (Act::Cancel, false) => ActionResult::failed(
                StatusCode::OK,
                format!("Message {id} is {before}: only a queued message can be cancelled."),
            ),
        }
    }
}

async fn act(state: &ConsoleState, admin: &Admin, id: i64, act: Act) -> Result<Response> {
    let outcome = audit::change(state, admin, async |tx| {
        let status = async |tx: &deadpool_postgres::Transaction<'_>| -> Result<Option<String>> {
            match tx.query_opt(queries::MESSAGE_STATUS, &[&id]).await? {
                Some(r) => Ok(Some(r.try_get(0)?)),
                None => Ok(None),
            }
        };
        let before = status(tx).await?.ok_or(ConsoleError::NotFound)?;
        let sql = match act {
            Act::Retry => queries::RETRY,
            Act::Cancel => queries::CANCEL,
        };
        let done: Option<i64> = tx.query_one(sql, &[&id]).await?.try_get("id")?;
        let result = act.result(id, done.is_some(), &before);
        if done.is_none() {
            return Ok(Outcome::Unchanged(result));
        }
        let after = status(tx).await?.ok_or(ConsoleError::NotFound)?;
        let change = Change::new(act.action(), format!("message {id}"))
            .before(json!({ "status": before }))
            .after(json!({ "status": after }));
        Ok(Outcome::Changed(change, result))
    })
    .await?;
    let title = match act {
        Act::Retry => format!("Retry message {id}"),
        Act::Cancel => format!("Cancel message {id}"),
    };
    pages::result(
        admin,
        "messages",
        &title,
        &format!("/messages/{id}"),
        outcome,
    )
}

/// `POST /messages/{id}/retry`.
pub async fn retry(
    State(state): State<ConsoleState>,
    admin: Admin,
    Path(id): Path<i64>,
    _: Csrf,
) -> Result<Response> {
    act(&state, &admin, id, Act::Retry).await
}

/// `POST /messages/{id}/cancel`.
pub async fn cancel(
    State(state): State<ConsoleState>,
    admin: Admin,
    Path(id): Path<i64>,
    _: Csrf,
) -> Result<Response> {
    act(&state, &admin, id, Act::Cancel).await
}
