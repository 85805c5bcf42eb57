//! The audit log: every change made through the console, with who made it,
//! from where, when, and the object before and after; and its page.

use axum::extract::{Query, State};
use axum::response::Html;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::pages::PAGES;
use super::session::Session;
use super::{ConsoleState, Result, queries};

/// Records one change. `before`/`after` never hold secrets: callers pass
/// rows with their secrets replaced by "set"/"not set".
pub async fn record(
    client: &impl deadpool_postgres::GenericClient,
    session: &Session,
    action: &str,
    object: &str,
    before: Option<Value>,
    after: Option<Value>,
) -> Result<()> {
    client
        .execute(
            queries::AUDIT_INSERT,
            &[
                &session.user,
                &session.address,
                &action,
                &object,
                &before,
                &after,
            ],
        )
        .await?;
    Ok(())
}

#[derive(Deserialize)]
pub struct AuditQuery {
    before: Option<i64>,
    actor: Option<String>,
}

#[derive(Serialize)]
struct Entry {
    id: i64,
    at: String,
    actor: String,
    address: Option<String>,
    action: String,
    object: String,
    before: Option<String>,
    after: Option<String>,
}

const PAGE: i64 = 100;

/// `GET /audit-log`: newest first, 100 a page.
pub async fn page(
    State(state): State<ConsoleState>,
    session: Session,
    Query(q): Query<AuditQuery>,
) -> Result<Html<String>> {
    let client = state.pool.get().await?;
    let actor = q.actor.filter(|a| !a.trim().is_empty());
    let rows = client
        .query(queries::AUDIT_PAGE, &[&q.before, &actor, &PAGE])
        .await?;
    let pretty = |v: Option<Value>| v.map(|v| serde_json::to_string_pretty(&v).unwrap_or_default());
    let entries: Vec<Entry> = rows
        .into_iter()
        .map(|r| Entry {
            id: r.get("id"),
            at: super::format::time(r.get("at")),
            actor: r.get("actor"),
            address: r.get("address"),
            action: r.get("action"),
            object: r.get("object"),
            before: pretty(r.get("before")),
            after: pretty(r.get("after")),
        })
        .collect();
    let next = (entries.len() as i64 == PAGE)
        .then(|| entries.last().map(|e| e.id))
        .flatten();
    PAGES.render(
        "audit.html",
        Some(&session),
        "audit",
        ctx! { entries, next, actor },
    )
}
