//! `GET /messages`: search by status, kind, user, address, tenant, provider,
//! date range, id and idempotency key (see `filter`), newest first with
//! keyset pagination; the bulk actions on what matches are in `bulk`.

use axum::extract::{Query, State};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};

use super::filter::RawFilter;
use super::form::{Refusal, respond};
use super::format::time;
use super::overview::status_names;
use super::pages;
use super::session::Session;
use super::{ConsoleState, Result, queries};
use crate::db::Pg;
use crate::message::Kind;

/// Rows per page.
const PAGE: i64 = 50;

#[derive(Deserialize)]
pub struct MessageListQuery {
    #[serde(flatten)]
    filter: RawFilter,
    before: Option<String>,
}

/// A message in the list.
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

impl TryFrom<&tokio_postgres::Row> for Row {
    type Error = tokio_postgres::Error;
    fn try_from(r: &tokio_postgres::Row) -> Result<Self, Self::Error> {
        let to_user: Option<String> = r.try_get("to_user")?;
        let to_address: Option<String> = r.try_get("to_address")?;
        let subject: Option<String> = r.try_get("subject")?;
        let template: Option<String> = r.try_get("template")?;
        Ok(Row {
            id: r.try_get("id")?,
            kind: r.try_get("kind")?,
            status: r.try_get("status")?,
            to: match (to_user, to_address) {
                (_, Some(a)) => a,
                (Some(u), None) => format!("user {u}"),
                (None, None) => String::new(),
            },
            tenant: r.try_get("tenant")?,
            what: subject
                .or(template.map(|t| format!("template {t}")))
                .unwrap_or_default(),
            attempts: r.try_get("attempts")?,
            last_error: r.try_get("last_error")?,
            created_at: time(r.try_get("created_at")?),
            deferrals: r.try_get("deferrals")?,
        })
    }
}

/// The search page: the filter as typed, what matches, what was refused.
#[derive(Serialize, Default)]
pub(super) struct MessagesPage {
    f: RawFilter,
    query: String,
    filtered: bool,
    rows: Vec<Row>,
    next: Option<i64>,
    error: Option<Refusal>,
    statuses: [&'static str; 9],
    kinds: Vec<&'static str>,
}

page! {
    MessagesPage => "messages.html", "messages";
}

impl MessagesPage {
    fn new(raw: RawFilter, rows: Vec<Row>, error: Option<Refusal>) -> Self {
        MessagesPage {
            query: raw.query(),
            filtered: !raw.is_empty(),
            next: queries::next_key(&rows, PAGE, |r| r.id),
            f: raw,
            rows,
            error,
            statuses: status_names(),
            kinds: Kind::ALL.iter().map(|k| k.as_str()).collect(),
        }
    }
}

/// `GET /messages`.
pub async fn list(
    State(state): State<ConsoleState>,
    session: Session,
    Query(mut q): Query<MessageListQuery>,
) -> Result<Response> {
    // A user scoped to a tenant searches that tenant's messages only.
    if let Some(tenant) = &session.tenant {
        q.filter.tenant = Some(tenant.clone());
    }
    let filter = match q.filter.check() {
        Ok(f) => f,
        Err(error) => {
            let page = MessagesPage::new(q.filter, Vec::new(), Some(error));
            return Ok(respond(
                pages::render(&session, &page)?,
                page.error.as_ref(),
            ));
        }
    };
    let before: Option<i64> = q.before.as_deref().and_then(|b| b.parse().ok());
    let client = state.pool.get().await?;
    let mut params = filter.params();
    params.push(&before);
    params.push(&PAGE);
    let rows = client
        .pg_query(queries::MESSAGES_PAGE.as_str(), &params)
        .await?;
    let page = MessagesPage::new(q.filter, queries::decode(&rows)?, None);
    Ok(pages::render(&session, &page)?.into_response())
}
