//! `/suppressions`: search the suppression list by family and address,
//! add an address, remove one with a reason (the reason goes to the audit log).

use crate::db::Pg;
use axum::extract::{Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::json;
use tokio_postgres::types::ToSql;

use super::audit::{self, Action, Change, Ending};
use super::csrf::CsrfForm;
use super::form::{Refusal, respond};
use super::format::Dated;
use super::pages;
use super::session::{Admin, Session};
use super::{ConsoleError, ConsoleState, Result, queries};

const FAMILIES: [&str; 4] = ["email", "phone", "push", "chat"];
const PAGE: i64 = 100;

/// The search as the query string gives it.
#[derive(Deserialize, Serialize, Default)]
#[serde(default)]
pub struct SearchQuery {
    family: Option<String>,
    address: Option<String>,
    before: Option<String>,
}

/// One suppression, as the audit log records it.
#[derive(Serialize)]
struct Entry {
    family: String,
    address: String,
    reason: Option<String>,
    source: String,
}

from_row!(Entry {
    family,
    address,
    reason,
    source,
});

/// The page: the search, what it found, and what was refused.
#[derive(Serialize, Default)]
pub(super) struct SuppressionsPage {
    entries: Vec<Dated<Entry>>,
    families: [&'static str; 4],
    family: Option<String>,
    address: Option<String>,
    next: Option<String>,
    error: Option<Refusal>,
}

page! {
    SuppressionsPage => "suppressions.html", "suppressions";
}

async fn render(
    state: &ConsoleState,
    session: &Session,
    q: SearchQuery,
    error: Option<Refusal>,
) -> Result<Response> {
    let family = q.family.clone().filter(|f| FAMILIES.contains(&f.as_str()));
    let address = q
        .address
        .clone()
        .map(|a| a.trim().to_owned())
        .filter(|a| !a.is_empty());
    let before: Option<DateTime<Utc>> = q
        .before
        .as_deref()
        .and_then(|b| DateTime::parse_from_rfc3339(b).ok())
        .map(|b| b.with_timezone(&Utc));
    let client = state.pool.get().await?;
    let rows = client
        .pg_query(
            queries::SUPPRESSIONS_SEARCH,
            &[&family, &address, &before, &PAGE],
        )
        .await?;
    let next = match rows.last() {
        Some(r) if rows.len() as i64 == PAGE => {
            Some(r.try_get::<_, DateTime<Utc>>("created_at")?.to_rfc3339())
        }
        _ => None,
    };
    let page = SuppressionsPage {
        entries: queries::decode(&rows)?,
        families: FAMILIES,
        family,
        address,
        next,
        error,
    };
    Ok(respond(pages::render(session, &page)?, page.error.as_ref()))
}

/// `GET /suppressions`.
pub async fn list(
    State(state): State<ConsoleState>,
    session: Session,
    Query(q): Query<SearchQuery>,
) -> Result<Response> {
    render(&state, &session, q, None).await
}

/// An entry as a form posts it: a missing field is empty.
#[derive(Deserialize, Default)]
#[serde(default)]
pub struct EntryForm {
    family: String,
    address: String,
    reason: String,
}

impl EntryForm {
    fn check(&self) -> Result<(), Refusal> {
        if !FAMILIES.contains(&self.family.as_str()) {
            return Err(Refusal::new("family", "email, phone, push or chat"));
        }
        if self.address.trim().is_empty() {
            return Err(Refusal::new("address", "required"));
        }
        if self.reason.trim().is_empty() {
            return Err(Refusal::new("reason", "say why"));
        }
        Ok(())
    }
}

fn object(family: &str, entry: &Entry) -> String {
    format!("suppression {family} {}", entry.address)
}

/// `POST /suppressions`: suppress an address.
pub async fn add(admin: Admin, CsrfForm(form): CsrfForm<EntryForm>) -> Result<Response> {
    if let Err(e) = form.check() {
        return render(&admin.state, &admin, SearchQuery::default(), Some(e)).await;
    }
    let address = form.address.trim();
    let added = audit::change(&admin, async |tx| {
        let params: [&(dyn ToSql + Sync); 3] = [&form.family, &address, &form.reason.trim()];
        match tx.pg_query_one(queries::SUPPRESSION_ADD, &params).await {
            Ok(row) => {
                let after = Entry::try_from(&row)?;
                let change = Change::new(Action::SuppressionAdd, object(&form.family, &after));
                Ok(Ending::Changed(change.after(json!(after)), true))
            }
            Err(e) if e.as_db_error().is_some() => Ok(Ending::Refused(false)),
            Err(e) => Err(e.into()),
        }
    })
    .await?;
    if !added {
        let refusal = Refusal::new("address", format!("{address:?} cannot be suppressed"));
        return render(&admin.state, &admin, SearchQuery::default(), Some(refusal)).await;
    }
    Ok(Redirect::to("/suppressions").into_response())
}

/// `POST /suppressions/remove`: lift one, with the reason why.
pub async fn remove(admin: Admin, CsrfForm(form): CsrfForm<EntryForm>) -> Result<Response> {
    if let Err(e) = form.check() {
        return render(&admin.state, &admin, SearchQuery::default(), Some(e)).await;
    }
    audit::change(&admin, async |tx| {
        let params: [&(dyn ToSql + Sync); 2] = [&form.family, &form.address.trim()];
        let row = tx
            .pg_query_opt(queries::SUPPRESSION_REMOVE, &params)
            .await?;
        let before = Entry::try_from(&row.ok_or(ConsoleError::NotFound)?)?;
        let change = Change::new(Action::SuppressionRemove, object(&form.family, &before))
            .before(json!(before))
            .after(json!({ "removed_because": form.reason.trim() }));
        Ok(change.into())
    })
    .await?;
    Ok(Redirect::to("/suppressions").into_response())
}
