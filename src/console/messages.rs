//! `GET /messages`: search by status, kind, user, address, tenant, provider,
//! date range, id and idempotency key, newest first with keyset pagination;
//! `POST /messages/bulk` (count and confirmation) and
//! `POST /messages/bulk/confirm`: retry or cancel what matches a filter (at
//! least one is required), at most [`BULK_LIMIT`] messages per action.

use axum::extract::{Query, State};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::json;
use tokio_postgres::types::ToSql;

use super::audit::{self, Action, Change, Outcome};
use super::csrf::CsrfForm;
use super::form::{Refusal, respond};
use super::format::time;
use super::overview::status_names;
use super::pages::{self, ActionResult, PAGES};
use super::session::{Admin, Session};
use super::{ConsoleState, Result, queries};
use crate::message::{Kind, Status};

/// Rows per page.
const PAGE: i64 = 50;

/// The most messages one bulk retry or cancel touches, oldest first; the
/// operator confirms again for the rest.
pub const BULK_LIMIT: i64 = 1000;

/// The filter as the form sends it: every field optional text.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(default)]
pub struct RawFilter {
    pub status: Option<String>,
    pub kind: Option<String>,
    pub user: Option<String>,
    pub address: Option<String>,
    pub tenant: Option<String>,
    pub provider: Option<String>,
    pub from: Option<String>,
    pub to: Option<String>,
    pub id: Option<String>,
    pub key: Option<String>,
}

/// The filter checked and typed, in the parameter order of
/// `console_message_filter.sql`.
#[derive(Debug, Default)]
pub struct Filter {
    status: Option<String>,
    kind: Option<String>,
    user: Option<String>,
    address: Option<String>,
    tenant: Option<String>,
    provider: Option<String>,
    from: Option<DateTime<Utc>>,
    to: Option<DateTime<Utc>>,
    id: Option<i64>,
    key: Option<String>,
}

fn given(v: &Option<String>) -> Option<String> {
    v.as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
}

/// `2026-11-25`, `2026-11-25T08:30` (a datetime-local field) or RFC 3339; UTC.
fn parse_time(field: &'static str, text: &str, end_of_day: bool) -> Result<DateTime<Utc>, Refusal> {
    if let Ok(t) = DateTime::parse_from_rfc3339(text) {
        return Ok(t.with_timezone(&Utc));
    }
    for format in ["%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M"] {
        if let Ok(t) = NaiveDateTime::parse_from_str(text, format) {
            return Ok(t.and_utc());
        }
    }
    if let Ok(d) = NaiveDate::parse_from_str(text, "%Y-%m-%d") {
        let day = if end_of_day {
            d.succ_opt().unwrap_or(d)
        } else {
            d
        };
        return Ok(day.and_hms_opt(0, 0, 0).unwrap_or_default().and_utc());
    }
    Err(Refusal::new(
        field,
        format!("{text:?} is not a date (2026-11-25) or a time (2026-11-25T08:30)"),
    ))
}

impl RawFilter {
    pub fn check(&self) -> Result<Filter, Refusal> {
        let status = given(&self.status);
        if let Some(s) = &status
            && s.parse::<Status>().is_err()
        {
            return Err(Refusal::new("status", format!("unknown status {s:?}")));
        }
        let kind = given(&self.kind);
        if let Some(k) = &kind {
            k.parse::<Kind>()
                .map_err(|e| Refusal::new("kind", e.to_string()))?;
        }
        let id = match given(&self.id) {
            Some(text) => Some(
                text.trim_start_matches('#')
                    .parse::<i64>()
                    .map_err(|_| Refusal::new("id", format!("{text:?} is not a message id")))?,
            ),
            None => None,
        };
        Ok(Filter {
            status,
            kind,
            user: given(&self.user),
            address: given(&self.address),
            tenant: given(&self.tenant),
            provider: given(&self.provider),
            from: given(&self.from)
                .map(|t| parse_time("from", &t, false))
                .transpose()?,
            to: given(&self.to)
                .map(|t| parse_time("to", &t, true))
                .transpose()?,
            id,
            key: given(&self.key),
        })
    }

    /// The filter as a query string, for links and hidden fields.
    pub fn query(&self) -> String {
        serde_urlencoded::to_string(self).unwrap_or_default()
    }

    fn is_empty(&self) -> bool {
        self.query()
            .split('&')
            .all(|p| p.ends_with('=') || p.is_empty())
    }
}

impl Filter {
    /// Whether no filter was given (which would match every message).
    fn is_empty(&self) -> bool {
        let Filter {
            status,
            kind,
            user,
            address,
            tenant,
            provider,
            from,
            to,
            id,
            key,
        } = self;
        [status, kind, user, address, tenant, provider, key]
            .iter()
            .all(|v| v.is_none())
            && from.is_none()
            && to.is_none()
            && id.is_none()
    }

    /// The filter for a bulk action: refused when empty.
    fn for_bulk(raw: &RawFilter) -> Result<Self, Refusal> {
        let filter = raw.check()?;
        if filter.is_empty() {
            return Err(Refusal::new(
                "filter",
                "a bulk action needs at least one filter (status, kind, user, address, tenant, \
                 provider, dates, id or key); it never acts on every message",
            ));
        }
        Ok(filter)
    }

    fn params(&self) -> Vec<&(dyn ToSql + Sync)> {
        vec![
            &self.status,
            &self.kind,
            &self.user,
            &self.address,
            &self.tenant,
            &self.provider,
            &self.from,
            &self.to,
            &self.id,
            &self.key,
        ]
    }
}

#[derive(Deserialize)]
pub struct MessageListQuery {
    #[serde(flatten)]
    filter: RawFilter,
    before: Option<String>,
}

#[derive(Serialize)]
struct Row {
    id: i64,
    kind: String,
    status: String,
    to: String,
    tenant: Option<String>,
    what: String,
    attempts: i32,
    last_error: Option<String>,
    created_at: String,
    deferrals: i32,
}

/// `GET /messages`.
pub async fn list(
    State(state): State<ConsoleState>,
    session: Session,
    Query(q): Query<MessageListQuery>,
) -> Result<Response> {
    let filter = match q.filter.check() {
        Ok(f) => f,
        Err(error) => {
            let page = PAGES.render(
                "messages.html",
                Some(&session),
                "messages",
                context(&q.filter, Vec::new(), None, Some(&error)),
            )?;
            return Ok(respond(page, Some(&error)));
        }
    };
    let before: Option<i64> = q.before.as_deref().and_then(|b| b.parse().ok());
    let client = state.pool.get().await?;
    let mut params = filter.params();
    params.push(&before);
    params.push(&PAGE);
    let rows: Vec<Row> = client
        .query(queries::MESSAGES_PAGE.as_str(), &params)
        .await?
        .into_iter()
        .map(|r| {
            let to_user: Option<String> = r.get("to_user");
            let to_address: Option<String> = r.get("to_address");
            let subject: Option<String> = r.get("subject");
            let template: Option<String> = r.get("template");
            Row {
                id: r.get("id"),
                kind: r.get("kind"),
                status: r.get("status"),
                to: match (to_user, to_address) {
                    (_, Some(a)) => a,
                    (Some(u), None) => format!("user {u}"),
                    (None, None) => String::new(),
                },
                tenant: r.get("tenant"),
                what: subject
                    .or(template.map(|t| format!("template {t}")))
                    .unwrap_or_default(),
                attempts: r.get("attempts"),
                last_error: r.get("last_error"),
                created_at: time(r.get("created_at")),
                deferrals: r.get("deferrals"),
            }
        })
        .collect();
    let next = (rows.len() as i64 == PAGE)
        .then(|| rows.last().map(|r| r.id))
        .flatten();
    Ok(PAGES
        .render(
            "messages.html",
            Some(&session),
            "messages",
            context(&q.filter, rows, next, None),
        )?
        .into_response())
}

fn context(
    raw: &RawFilter,
    rows: Vec<Row>,
    next: Option<i64>,
    error: Option<&Refusal>,
) -> minijinja::Value {
    ctx! {
        f => raw,
        query => raw.query(),
        filtered => !raw.is_empty(),
        rows,
        next,
        error,
        statuses => status_names(),
        kinds => Kind::ALL.iter().map(|k| k.as_str()).collect::<Vec<_>>(),
    }
}

#[derive(Deserialize)]
pub struct BulkForm {
    #[serde(flatten)]
    filter: RawFilter,
    action: String,
}

/// What a bulk action does to every matching message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum BulkAction {
    Retry,
    Cancel,
}

impl BulkAction {
    fn parse(name: &str) -> Result<Self, Refusal> {
        match name {
            "retry" => Ok(Self::Retry),
            "cancel" => Ok(Self::Cancel),
            other => Err(Refusal::new(
                "action",
                format!("unknown bulk action {other:?} (retry or cancel)"),
            )),
        }
    }

    fn as_str(self) -> &'static str {
        match self {
            Self::Retry => "retry",
            Self::Cancel => "cancel",
        }
    }
}

/// `POST /messages/bulk`: how many match and how many the action would
/// touch, with a form to confirm.
pub async fn bulk_preview(
    State(state): State<ConsoleState>,
    session: Admin,
    CsrfForm(form): CsrfForm<BulkForm>,
) -> Result<Response> {
    let action = BulkAction::parse(&form.action)?;
    let filter = Filter::for_bulk(&form.filter)?;
    let client = state.pool.get().await?;
    let row = client
        .query_one(queries::MESSAGES_COUNT.as_str(), &filter.params())
        .await?;
    let total: i64 = row.get("total");
    let affected: i64 = row.get(match action {
        BulkAction::Retry => "retryable",
        BulkAction::Cancel => "cancellable",
    });
    let action = action.as_str();
    let hidden: Vec<(String, String)> =
        serde_urlencoded::from_str(&form.filter.query()).unwrap_or_default();
    Ok(PAGES
        .render(
            "bulk.html",
            Some(&session),
            "messages",
            ctx! {
                action, total, affected, hidden, query => form.filter.query(),
                limit => BULK_LIMIT, acting => affected.min(BULK_LIMIT),
            },
        )?
        .into_response())
}

/// `POST /messages/bulk/confirm`: `outpost.retry` or `outpost.cancel` on the
/// first [`BULK_LIMIT`] matching messages (lowest ids first), in one
/// transaction, recorded in the audit log; says whether more remain.
pub async fn bulk_apply(
    State(state): State<ConsoleState>,
    session: Admin,
    CsrfForm(form): CsrfForm<BulkForm>,
) -> Result<Response> {
    let action = BulkAction::parse(&form.action)?;
    let filter = Filter::for_bulk(&form.filter)?;
    let (sql, verb, audited) = match action {
        BulkAction::Retry => (
            queries::MESSAGES_RETRY.as_str(),
            "queued again",
            Action::MessagesBulkRetry,
        ),
        BulkAction::Cancel => (
            queries::MESSAGES_CANCEL.as_str(),
            "cancelled",
            Action::MessagesBulkCancel,
        ),
    };
    let action = action.as_str();
    let (ids, more) = audit::change(&state, &session, async |tx| {
        let mut params = filter.params();
        params.push(&BULK_LIMIT);
        let rows = tx.query(sql, &params).await?;
        // One candidate past the limit is read, never acted on: it says more remain.
        let more = i64::try_from(rows.len()).unwrap_or(i64::MAX) > BULK_LIMIT;
        let mut ids = Vec::with_capacity(rows.len());
        for row in rows {
            if let Some(id) = row.try_get::<_, Option<i64>>("id")? {
                ids.push(id);
            }
        }
        let change = Change::new(
            audited,
            format!("messages matching {}", form.filter.query()),
        )
        .after(json!({ "count": ids.len(), "ids": ids, "more": more }));
        Ok(Outcome::Changed(change, (ids, more)))
    })
    .await?;
    pages::result(
        &session,
        "messages",
        &format!("Bulk {action}"),
        &format!("/messages?{}", form.filter.query()),
        ActionResult::done(if more {
            format!(
                "{} message(s) {verb}. More match: a bulk action touches at most {BULK_LIMIT} \
                 messages; run it again for the next ones.",
                ids.len()
            )
        } else {
            format!("{} message(s) {verb}.", ids.len())
        }),
    )
}
