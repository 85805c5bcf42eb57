//! `POST /messages/bulk` (count and confirmation) and
//! `POST /messages/bulk/confirm`: retry or cancel what matches a filter (at
//! least one is required), at most [`BULK_LIMIT`] messages per action.

use crate::db::Pg;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::audit::{self, Action, Change, Ending};
use super::csrf::CsrfForm;
use super::filter::{Filter, RawFilter};
use super::form::Refusal;
use super::pages::{self, ActionResult};
use super::session::Admin;
use super::{Result, queries};

/// The most messages one bulk retry or cancel touches, oldest first; the
/// operator confirms again for the rest.
pub const BULK_LIMIT: i64 = 1000;

/// The confirmation page.
#[derive(Serialize, Default)]
pub(super) struct BulkPage {
    action: &'static str,
    total: i64,
    affected: i64,
    hidden: Vec<(String, String)>,
    query: String,
    limit: i64,
    acting: i64,
}

page! {
    BulkPage => "bulk.html", "messages";
}

#[derive(Deserialize)]
pub struct BulkForm {
    #[serde(flatten)]
    filter: RawFilter,
    action: String,
}

impl BulkForm {
    /// The action and the filter, refused when either is unusable.
    fn check(&self) -> Result<(BulkAction, Filter), Refusal> {
        Ok((
            BulkAction::parse(&self.action)?,
            Filter::for_bulk(&self.filter)?,
        ))
    }
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
pub async fn preview(admin: Admin, CsrfForm(mut form): CsrfForm<BulkForm>) -> Result<Response> {
    if let Some(tenant) = &admin.tenant {
        form.filter.tenant = Some(tenant.clone());
    }
    let (action, filter) = form.check()?;
    let client = admin.state.pool.get().await?;
    let row = client
        .pg_query_one(queries::MESSAGES_COUNT.as_str(), &filter.params())
        .await?;
    let affected: i64 = row.try_get(match action {
        BulkAction::Retry => "retryable",
        BulkAction::Cancel => "cancellable",
    })?;
    let query = form.filter.query();
    let page = BulkPage {
        action: action.as_str(),
        total: row.try_get("total")?,
        affected,
        hidden: serde_urlencoded::from_str(&query).unwrap_or_default(),
        query,
        limit: BULK_LIMIT,
        acting: affected.min(BULK_LIMIT),
    };
    Ok(pages::render(&admin, &page)?.into_response())
}

/// `POST /messages/bulk/confirm`: `outpost.retry` or `outpost.cancel` on the
/// first [`BULK_LIMIT`] matching messages (lowest ids first), in one
/// transaction, recorded in the audit log; says whether more remain.
pub async fn apply(admin: Admin, CsrfForm(mut form): CsrfForm<BulkForm>) -> Result<Response> {
    if let Some(tenant) = &admin.tenant {
        form.filter.tenant = Some(tenant.clone());
    }
    let (action, filter) = form.check()?;
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
    let (ids, more) = audit::change(&admin, async |tx| {
        let mut params = filter.params();
        params.push(&BULK_LIMIT);
        let rows = tx.pg_query(sql, &params).await?;
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
        Ok(Ending::Changed(change, (ids, more)))
    })
    .await?;
    pages::result(
        &admin,
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
