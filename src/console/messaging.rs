//! `/messaging`: the tenants' messaging configurations (enabled, push on
//! message): list, set, remove.

use crate::db::Pg;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Redirect, Response};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::audit::{self, Action, Change, Ending};
use super::csrf::{Csrf, CsrfForm};
use super::form::{Refusal, respond};
use super::format::Dated;
use super::pages;
use super::session::{Admin, Session};
use super::{ConsoleError, ConsoleState, Result, queries};

/// One tenant's configuration, as shown and as the audit log records it.
#[derive(Serialize)]
struct Config {
    tenant: String,
    enabled: bool,
    push_on_message: bool,
}

from_row!(Config {
    tenant,
    enabled,
    push_on_message,
});

/// The page: every configuration, and what was refused.
#[derive(Serialize, Default)]
pub(super) struct MessagingPage {
    configs: Vec<Dated<Config>>,
    error: Option<Refusal>,
}

page! {
    MessagingPage => "messaging.html", "messaging";
}

async fn render(
    state: &ConsoleState,
    session: &Session,
    error: Option<Refusal>,
) -> Result<Response> {
    let client = state.pool.get().await?;
    let rows = client.pg_query(queries::MESSAGING_LIST, &[]).await?;
    let page = MessagingPage {
        configs: queries::decode(&rows)?,
        error,
    };
    Ok(respond(pages::render(session, &page)?, page.error.as_ref()))
}

/// `GET /messaging`.
pub async fn list(State(state): State<ConsoleState>, session: Session) -> Result<Response> {
    render(&state, &session, None).await
}

/// The form as posted: a missing field is empty.
#[derive(Deserialize, Default)]
#[serde(default)]
pub struct ConfigForm {
    tenant: String,
    enabled: Option<String>,
    push_on_message: Option<String>,
}

/// Tenant `tenant`'s configuration as the audit log records it, if any.
async fn audited(tx: &deadpool_postgres::Transaction<'_>, tenant: &str) -> Result<Option<Value>> {
    match tx.pg_query_opt(queries::MESSAGING_GET, &[&tenant]).await? {
        Some(r) => Ok(Some(json!(Config::try_from(&r)?))),
        None => Ok(None),
    }
}

fn object(tenant: &str) -> String {
    format!("messaging config {tenant}")
}

/// `POST /messaging`: set one tenant's configuration (adds it if new).
pub async fn save(admin: Admin, CsrfForm(form): CsrfForm<ConfigForm>) -> Result<Response> {
    let tenant = form.tenant.trim();
    if tenant.is_empty() || tenant.len() > 200 {
        let refusal = Refusal::new("tenant", "required, at most 200 characters");
        return render(&admin.state, &admin, Some(refusal)).await;
    }
    audit::change(&admin, async |tx| {
        let before = audited(tx, tenant).await?;
        let flags = [form.enabled.is_some(), form.push_on_message.is_some()];
        tx.pg_execute(queries::MESSAGING_UPSERT, &[&tenant, &flags[0], &flags[1]])
            .await?;
        let action = match before {
            Some(_) => Action::MessagingEdit,
            None => Action::MessagingAdd,
        };
        let after = audited(tx, tenant).await?;
        Ok(Change::new(action, object(tenant))
            .before(before)
            .after(after)
            .into())
    })
    .await?;
    Ok(Redirect::to("/messaging").into_response())
}

/// `POST /messaging/{tenant}/delete`.
pub async fn delete(admin: Admin, Path(tenant): Path<String>, _: Csrf) -> Result<Response> {
    audit::change(&admin, async |tx| {
        let before = audited(tx, &tenant).await?.ok_or(ConsoleError::NotFound)?;
        tx.pg_execute(queries::MESSAGING_DELETE, &[&tenant]).await?;
        Ok(Ending::from(
            Change::new(Action::MessagingRemove, object(&tenant)).before(before),
        ))
    })
    .await?;
    Ok(Redirect::to("/messaging").into_response())
}
