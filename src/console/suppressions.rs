//! `/suppressions`: search the suppression list by family and address,
//! add an address, remove one with a reason (the reason goes to the audit log).

use axum::extract::{Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::csrf::CsrfForm;
use super::form::{Refusal, respond};
use super::format::time;
use super::pages::PAGES;
use super::session::{Admin, Session};
use super::{ConsoleError, ConsoleState, Result, audit, queries};

const FAMILIES: [&str; 4] = ["email", "phone", "push", "chat"];
const PAGE: i64 = 100;

#[derive(Deserialize, Serialize, Default)]
pub struct SearchQuery {
    #[serde(default)]
    family: Option<String>,
    #[serde(default)]
    address: Option<String>,
    #[serde(default)]
    before: Option<String>,
}

#[derive(Serialize)]
struct Entry {
    family: String,
    address: String,
    reason: Option<String>,
    source: String,
    created_at: String,
}

fn row_json(r: &tokio_postgres::Row) -> Value {
    json!({ "family": r.get::<_, String>("family"), "address": r.get::<_, String>("address"),
            "reason": r.get::<_, Option<String>>("reason"), "source": r.get::<_, String>("source") })
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
        .query(
            queries::SUPPRESSIONS_SEARCH,
            &[&family, &address, &before, &PAGE],
        )
        .await?;
    let next = (rows.len() as i64 == PAGE)
        .then(|| {
            rows.last()
                .map(|r| r.get::<_, DateTime<Utc>>("created_at").to_rfc3339())
        })
        .flatten();
    let entries: Vec<Entry> = rows
        .into_iter()
        .map(|r| Entry {
            family: r.get("family"),
            address: r.get("address"),
            reason: r.get("reason"),
            source: r.get("source"),
            created_at: time(r.get("created_at")),
        })
        .collect();
    let page = PAGES.render(
        "suppressions.html",
        Some(session),
        "suppressions",
        ctx! { entries, families => FAMILIES, family, address, next, error },
    )?;
    Ok(respond(page, error.as_ref()))
}

/// `GET /suppressions`.
pub async fn list(
    State(state): State<ConsoleState>,
    session: Session,
    Query(q): Query<SearchQuery>,
) -> Result<Response> {
    render(&state, &session, q, None).await
}

#[derive(Deserialize)]
pub struct EntryForm {
    #[serde(default)]
    family: String,
    #[serde(default)]
    address: String,
    #[serde(default)]
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

/// `POST /suppressions`: suppress an address.
pub async fn add(
    State(state): State<ConsoleState>,
    session: Admin,
    CsrfForm(form): CsrfForm<EntryForm>,
) -> Result<Response> {
    if let Err(e) = form.check() {
        return render(&state, &session, SearchQuery::default(), Some(e)).await;
    }
    let mut client = state.pool.get().await?;
    let tx = client.transaction().await?;
    let after = match tx
        .query_one(
            queries::SUPPRESSION_ADD,
            &[&form.family, &form.address.trim(), &form.reason.trim()],
        )
        .await
    {
        Ok(row) => row_json(&row),
        Err(e) if e.as_db_error().is_some() => {
            drop(tx);
            return render(
                &state,
                &session,
                SearchQuery::default(),
                Some(Refusal::new(
                    "address",
                    format!("{:?} cannot be suppressed", form.address.trim()),
                )),
            )
            .await;
        }
        Err(e) => return Err(e.into()),
    };
    audit::record(
        &tx,
        &session,
        "suppression.add",
        &format!(
            "suppression {} {}",
            form.family,
            after["address"].as_str().unwrap_or("")
        ),
        None,
        Some(after),
    )
    .await?;
    tx.commit().await?;
    Ok(Redirect::to("/suppressions").into_response())
}

/// `POST /suppressions/remove`: lift one, with the reason why.
pub async fn remove(
    State(state): State<ConsoleState>,
    session: Admin,
    CsrfForm(form): CsrfForm<EntryForm>,
) -> Result<Response> {
    if let Err(e) = form.check() {
        return render(&state, &session, SearchQuery::default(), Some(e)).await;
    }
    let mut client = state.pool.get().await?;
    let tx = client.transaction().await?;
    let before = tx
        .query_opt(
            queries::SUPPRESSION_REMOVE,
            &[&form.family, &form.address.trim()],
        )
        .await?
        .map(|r| row_json(&r))
        .ok_or(ConsoleError::NotFound)?;
    audit::record(
        &tx,
        &session,
        "suppression.remove",
        &format!(
            "suppression {} {}",
            form.family,
            before["address"].as_str().unwrap_or("")
        ),
        Some(before),
        Some(json!({ "removed_because": form.reason.trim() })),
    )
    .await?;
    tx.commit().await?;
    Ok(Redirect::to("/suppressions").into_response())
}
