//! `GET /messages/{id}`: the message, its rendered preview (`preview`) and
//! one timeline (`timeline`) of enqueue, attempts, provider events and the
//! chat message it became; `POST /messages/{id}/retry|cancel` call
//! `outpost.retry` / `outpost.cancel`.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{Html, Response};
use serde::Serialize;
use serde_json::json;
use tokio_postgres::Row;

use super::audit::{self, Action, Change, Ending};
use super::csrf::Csrf;
use super::format::{present, stamp};
use super::pages::{self, ActionResult};
use super::session::{Admin, Session};
use super::timeline::{Event, lenient_stamp, timeline};
use super::{ConsoleError, ConsoleState, Result, queries};
use crate::config::Config;
use crate::db::Pg;
use crate::db::lenient::Json;
use crate::message::Status;

/// The message's page.
#[derive(Serialize, Default)]
pub(super) struct MessagePage {
    id: i64,
    kind: String,
    status: &'static str,
    fields: Vec<(&'static str, String)>,
    possible_duplicate: bool,
    context: String,
    options: String,
    body: Option<String>,
    timeline: Vec<Event>,
    chain: Vec<super::chain::Link>,
    can_retry: bool,
    can_cancel: bool,
}

page! {
    MessagePage => "message.html", "messages";
}

/// `GET /messages/{id}`.
pub async fn page(
    State(state): State<ConsoleState>,
    session: Session,
    Path(id): Path<i64>,
) -> Result<Html<String>> {
    let client = state.pool.get().await?;
    let m = queries::found(&client, queries::MESSAGE, &[&id]).await?;
    if !session.sees(m.try_get::<_, Option<String>>("tenant")?.as_deref()) {
        return Err(ConsoleError::NotFound);
    }
    let status: Status = m.try_get("status")?;
    // The message's JSON is read leniently: an application wrote it, and
    // the page shows whatever it holds.
    let json_of = |c: &str| {
        m.try_get::<_, Json>(c)
            .map_or_else(|e| format!("(cannot read {c}: {e})"), |j| j.pretty())
    };
    let page = MessagePage {
        id,
        kind: m.try_get("kind")?,
        status: status.as_str(),
        fields: fields(&m, status, &state.config)?,
        possible_duplicate: m.try_get("possible_duplicate")?,
        context: json_of("context"),
        options: json_of("options"),
        body: m.try_get("body")?,
        timeline: timeline(&client, id, &m).await?,
        chain: super::chain::chain(&client, &session, id).await?,
        can_retry: status.can_retry(),
        can_cancel: status.can_cancel(),
    };
    pages::render(&session, &page)
}

/// The message's details as the page lists them, the empty ones left out.
fn fields(m: &Row, status: Status, config: &Config) -> Result<Vec<(&'static str, String)>> {
    let opt = |c: &str| m.try_get::<_, Option<String>>(c);
    let max_attempts = m
        .try_get::<_, Option<i32>>("max_attempts")?
        .map_or_else(|| config.retry.max_attempts.to_string(), |n| n.to_string());
    let attempts = format!("{} of {max_attempts}", m.try_get::<_, i32>("attempts")?);
    let fields = [
        ("kind", Some(m.try_get("kind")?)),
        ("status", Some(status.to_string())),
        ("to user", opt("to_user")?),
        ("to address", opt("to_address")?),
        ("tenant", opt("tenant")?),
        ("template", opt("template")?),
        ("locale", opt("locale")?),
        ("subject", opt("subject")?),
        ("provider (forced)", opt("provider")?),
        ("attempts", Some(attempts)),
        (
            "deferrals",
            Some(m.try_get::<_, i32>("deferrals")?.to_string()),
        ),
        ("provider id", opt("provider_message_id")?),
        ("last error", opt("last_error")?),
        ("worker", opt("worker")?),
        ("sent", lenient_stamp(m, "sent_at").map(stamp)),
        ("finished", lenient_stamp(m, "finished_at").map(stamp)),
    ];
    Ok(present(fields))
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

async fn act(admin: &Admin, id: i64, act: Act) -> Result<Response> {
    let outcome = audit::change(admin, async |tx| {
        let status = async |tx: &deadpool_postgres::Transaction<'_>| -> Result<Option<String>> {
            match tx.pg_query_opt(queries::MESSAGE_STATUS, &[&id]).await? {
                // Another tenant's message is not there for a scoped user.
                Some(r) if admin.sees(r.try_get::<_, Option<String>>("tenant")?.as_deref()) => {
                    Ok(Some(r.try_get("status")?))
                }
                _ => Ok(None),
            }
        };
        let before = status(tx).await?.ok_or(ConsoleError::NotFound)?;
        let sql = match act {
            Act::Retry => queries::RETRY,
            Act::Cancel => queries::CANCEL,
        };
        let done: Option<i64> = tx.pg_query_one(sql, &[&id]).await?.try_get("id")?;
        let result = act.result(id, done.is_some(), &before);
        if done.is_none() {
            return Ok(Ending::Unchanged(result));
        }
        let after = status(tx).await?.ok_or(ConsoleError::NotFound)?;
        let change = Change::new(act.action(), format!("message {id}"))
            .before(json!({ "status": before }))
            .after(json!({ "status": after }));
        Ok(Ending::Changed(change, result))
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
pub async fn retry(admin: Admin, Path(id): Path<i64>, _: Csrf) -> Result<Response> {
    act(&admin, id, Act::Retry).await
}

/// `POST /messages/{id}/cancel`.
pub async fn cancel(admin: Admin, Path(id): Path<i64>, _: Csrf) -> Result<Response> {
    act(&admin, id, Act::Cancel).await
}
