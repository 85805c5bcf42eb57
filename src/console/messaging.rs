//! `/messaging`: the tenants' messaging configurations (enabled, push on
//! message): list, set, remove.

use axum::extract::{Path, State};
use axum::response::{IntoResponse, Redirect, Response};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::csrf::{Csrf, CsrfForm};
use super::form::{Refusal, respond};
use super::format::time;
use super::pages::PAGES;
use super::session::{Admin, Session};
use super::{ConsoleError, ConsoleState, Result, audit, queries};

#[derive(Serialize)]
struct Config {
    tenant: String,
    enabled: bool,
    push_on_message: bool,
    created_at: String,
}

fn row_json(r: &tokio_postgres::Row) -> Value {
    json!({ "tenant": r.get::<_, String>("tenant"), "enabled": r.get::<_, bool>("enabled"),
            "push_on_message": r.get::<_, bool>("push_on_message") })
}

async fn render(
    state: &ConsoleState,
    session: &Session,
    error: Option<Refusal>,
) -> Result<Response> {
    let client = state.pool.get().await?;
    let configs: Vec<Config> = client
        .query(queries::MESSAGING_LIST, &[])
        .await?
        .into_iter()
        .map(|r| Config {
            tenant: r.get("tenant"),
            enabled: r.get("enabled"),
            push_on_message: r.get("push_on_message"),
            created_at: time(r.get("created_at")),
        })
        .collect();
    let page = PAGES.render(
        "messaging.html",
        Some(session),
        "messaging",
        ctx! { configs, error },
    )?;
    Ok(respond(page, error.as_ref()))
}

/// `GET /messaging`.
pub async fn list(State(state): State<ConsoleState>, session: Session) -> Result<Response> {
    render(&state, &session, None).await
}

#[derive(Deserialize)]
pub struct ConfigForm {
    #[serde(default)]
    tenant: String,
    #[serde(default)]
    enabled: Option<String>,
    #[serde(default)]
    push_on_message: Option<String>,
}

/// `POST /messaging`: set one tenant's configuration (adds it if new).
pub async fn save(
    State(state): State<ConsoleState>,
    session: Admin,
    CsrfForm(form): CsrfForm<ConfigForm>,
) -> Result<Response> {
    let tenant = form.tenant.trim();
    if tenant.is_empty() || tenant.len() > 200 {
        return render(
            &state,
            &session,
            Some(Refusal::new("tenant", "required, at most 200 characters")),
        )
        .await;
    }
    let mut client = state.pool.get().await?;
    let tx = client.transaction().await?;
    let before = tx
        .query_opt(queries::MESSAGING_GET, &[&tenant])
        .await?
        .map(|r| row_json(&r));
    tx.execute(
        queries::MESSAGING_UPSERT,
        &[
            &tenant,
            &form.enabled.is_some(),
            &form.push_on_message.is_some(),
        ],
    )
    .await?;
    let after = tx
        .query_opt(queries::MESSAGING_GET, &[&tenant])
        .await?
        .map(|r| row_json(&r));
    audit::record(
        &tx,
        &session,
        if before.is_some() {
            "messaging.edit"
        } else {
            "messaging.add"
        },
        &format!("messaging config {tenant}"),
        before,
        after,
    )
    .await?;
    tx.commit().await?;
    Ok(Redirect::to("/messaging").into_response())
}

/// `POST /messaging/{tenant}/delete`.
pub async fn delete(
    State(state): State<ConsoleState>,
    session: Admin,
    Path(tenant): Path<String>,
    _: Csrf,
) -> Result<Response> {
    let mut client = state.pool.get().await?;
    let tx = client.transaction().await?;
    let before = tx
        .query_opt(queries::MESSAGING_GET, &[&tenant])
        .await?
        .map(|r| row_json(&r))
        .ok_or(ConsoleError::NotFound)?;
    tx.execute(queries::MESSAGING_DELETE, &[&tenant]).await?;
    audit::record(
        &tx,
        &session,
        "messaging.remove",
        &format!("messaging config {tenant}"),
        Some(before),
        None,
    )
    .await?;
    tx.commit().await?;
    Ok(Redirect::to("/messaging").into_response())
}
