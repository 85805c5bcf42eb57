//! `/smtp-servers`: the servers `smtp_db` picks from (enabled, lowest
//! order): list, add, edit, enable, disable, reorder, delete (the tests of
//! a server are in `smtp_test`).
//! Passwords are write-only: shown as set / not set, replaced by typing a
//! new one, and cleared when the host, port, user name or security changes
//! without a new one typed in the same form.

use crate::db::Pg;
use axum::extract::{Path, State};
use axum::response::{Html, IntoResponse, Redirect, Response};
use deadpool_postgres::Transaction;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use tokio_postgres::Row;

use super::audit::{self, Action, Change, Ending};
use super::csrf::{Csrf, CsrfForm};
use super::form::{Refusal, Switch};
use super::format::time;
use super::pages;
use super::session::{Admin, Session};
use super::smtp_form::{Fields, ServerForm, echo, form_page, refusal};
use super::{ConsoleError, ConsoleState, Result, queries};

#[derive(Serialize)]
struct Server {
    id: i64,
    name: String,
    host: String,
    port: i32,
    username: String,
    password_set: bool,
    security: String,
    timeout_seconds: i32,
    order: i32,
    enabled: bool,
}

from_row!(Server {
    id,
    name,
    host,
    port,
    username,
    password_set,
    security,
    timeout_seconds,
    order,
    enabled,
});

/// The list page.
#[derive(Serialize, Default)]
pub(super) struct ServersPage {
    servers: Vec<Server>,
    updated: Vec<String>,
    in_use: Option<i64>,
}

page! {
    ServersPage => "smtp_servers.html", "smtp";
}

impl From<&Server> for Fields {
    fn from(s: &Server) -> Self {
        Fields {
            id: Some(s.id),
            name: s.name.clone(),
            host: s.host.clone(),
            port: s.port.to_string(),
            username: s.username.clone(),
            security: s.security.clone(),
            order: s.order.to_string(),
            timeout_seconds: s.timeout_seconds.to_string(),
            password_set: s.password_set,
            enabled: s.enabled,
        }
    }
}

/// A row for the audit log: the password only as set / not set.
fn audited(s: &Server) -> Value {
    json!({
        "name": s.name, "host": s.host, "port": s.port, "username": s.username,
        "password": if s.password_set { "set" } else { "not set" },
        "security": s.security, "timeout_seconds": s.timeout_seconds,
        "order": s.order, "enabled": s.enabled,
    })
}

/// `GET /smtp-servers`.
pub async fn list(State(state): State<ConsoleState>, session: Session) -> Result<Html<String>> {
    let client = state.pool.get().await?;
    let rows = client.pg_query(queries::SMTP_LIST, &[]).await?;
    let servers: Vec<Server> = queries::decode(&rows)?;
    let updated = rows
        .iter()
        .map(|r| r.try_get("updated_at").map(time))
        .collect::<Result<_, _>>()?;
    let in_use = servers.iter().find(|s| s.enabled).map(|s| s.id);
    pages::render(
        &session,
        &ServersPage {
            servers,
            updated,
            in_use,
        },
    )
}

/// `POST /smtp-servers`: add one.
pub async fn create(admin: Admin, CsrfForm(form): CsrfForm<ServerForm>) -> Result<Response> {
    let checked = match form.check() {
        Ok(c) => c,
        Err(e) => return form_page(&admin, echo(&form, None, false), Some(e)),
    };
    audit::change(&admin, async |tx| {
        let inserted = tx
            .pg_query_one(
                queries::SMTP_INSERT,
                &[
                    &checked.name,
                    &checked.host,
                    &checked.port,
                    &checked.username,
                    &form.password,
                    &checked.security,
                    &checked.order,
                    &checked.timeout_seconds,
                    &form.enabled.is_some(),
                ],
            )
            .await;
        let id: i64 = match inserted {
            Ok(row) => row.try_get("id")?,
            Err(e) => {
                let reason = refusal(&e).ok_or(e)?;
                let page = form_page(&admin, echo(&form, None, false), Some(reason))?;
                return Ok(Ending::Refused(page));
            }
        };
        let after = load(tx, id).await?;
        let change = Change::new(Action::SmtpServerAdd, format!("smtp server {}", after.name))
            .after(audited(&after));
        Ok(Ending::Changed(change, back()))
    })
    .await
}

fn back() -> Response {
    Redirect::to("/smtp-servers").into_response()
}

/// SMTP server `id` (its password only as set / not set), or 404.
async fn load(client: &impl Pg, id: i64) -> Result<Server> {
    Ok(Server::try_from(&load_row(client, id).await?)?)
}

/// SMTP server `id`'s row, password included (for its tests; never shown).
pub(super) async fn load_row(client: &impl Pg, id: i64) -> Result<Row> {
    queries::found(client, queries::SMTP_GET, &[&id]).await
}

/// `GET /smtp-servers/{id}`: the edit form (the password never included).
pub async fn edit_form(
    State(state): State<ConsoleState>,
    session: Session,
    Path(id): Path<i64>,
) -> Result<Response> {
    let client = state.pool.get().await?;
    let server = load(&client, id).await?;
    form_page(&session, Fields::from(&server), None)
}

/// `POST /smtp-servers/{id}`: save an edit.
pub async fn update(
    admin: Admin,
    Path(id): Path<i64>,
    CsrfForm(form): CsrfForm<ServerForm>,
) -> Result<Response> {
    audit::change(&admin, async |tx| {
        let before = load(tx, id).await?;
        let refuse = |e| -> Result<Ending<Response>> {
            let page = form_page(&admin, echo(&form, Some(id), before.password_set), Some(e))?;
            Ok(Ending::Refused(page))
        };
        let checked = match form.check() {
            Ok(c) => c,
            Err(e) => return refuse(e),
        };
        let password: Option<String> = if form.clear_password.is_some() {
            Some(String::new())
        } else {
            Some(form.password.clone()).filter(|p| !p.is_empty())
        };
        let order = checked.order.unwrap_or(before.order);
        let updated = tx
            .pg_query_opt(
                queries::SMTP_UPDATE,
                &[
                    &id,
                    &checked.name,
                    &checked.host,
                    &checked.port,
                    &checked.username,
                    &password,
                    &checked.security,
                    &order,
                    &checked.timeout_seconds,
                ],
            )
            .await;
        let cleared: bool = match updated {
            Ok(Some(row)) => row.try_get("cleared")?,
            Ok(None) => return Err(ConsoleError::NotFound),
            Err(e) => return refuse(refusal(&e).ok_or(e)?),
        };
        let after = load(tx, id).await?;
        let mut after_audit = audited(&after);
        if password.as_deref().is_some_and(|p| !p.is_empty()) {
            after_audit["password"] = json!("replaced");
        } else if cleared {
            after_audit["password"] = json!("cleared: host, port, user name or security changed");
        } else if form.clear_password.is_some() && before.password_set {
            after_audit["password"] = json!("cleared");
        }
        let change = Change::new(
            Action::SmtpServerEdit,
            format!("smtp server {}", after.name),
        )
        .before(audited(&before))
        .after(after_audit);
        Ok(Ending::Changed(change, back()))
    })
    .await
}

/// `action` on server `id` by `apply`, recorded with the server before and after.
async fn change(
    admin: &Admin,
    id: i64,
    action: Action,
    apply: impl AsyncFnOnce(&Transaction<'_>) -> Result<u64, tokio_postgres::Error>,
) -> Result<Response> {
    audit::change(admin, async |tx| {
        let before = load(tx, id).await?;
        apply(tx).await?;
        let after = match tx.pg_query_opt(queries::SMTP_GET, &[&id]).await? {
            Some(r) => Some(audited(&Server::try_from(&r)?)),
            None => None,
        };
        let change = Change::new(action, format!("smtp server {}", before.name))
            .before(audited(&before))
            .after(after);
        Ok(Ending::Changed(change, back()))
    })
    .await
}

/// `POST /smtp-servers/{id}/enable` and `…/disable`.
pub async fn switch(
    admin: Admin,
    Path((id, to)): Path<(i64, Switch)>,
    _: Csrf,
) -> Result<Response> {
    let action = to.pick(Action::SmtpServerEnable, Action::SmtpServerDisable);
    change(&admin, id, action, async |tx| {
        tx.pg_execute(queries::SMTP_ENABLE, &[&id, &to.on()]).await
    })
    .await
}

#[derive(Deserialize)]
pub struct MoveForm {
    direction: String,
}

/// `POST /smtp-servers/{id}/move` with `direction` up or down.
pub async fn reorder(
    admin: Admin,
    Path(id): Path<i64>,
    CsrfForm(form): CsrfForm<MoveForm>,
) -> Result<Response> {
    let (direction, action) = match form.direction.as_str() {
        "up" => ("up", Action::SmtpServerMoveUp),
        "down" => ("down", Action::SmtpServerMoveDown),
        _ => return Err(Refusal::new("direction", "up or down").into()),
    };
    change(&admin, id, action, async |tx| {
        tx.pg_execute(queries::SMTP_SWAP, &[&id, &direction]).await
    })
    .await
}

/// `POST /smtp-servers/{id}/delete`.
pub async fn delete(admin: Admin, Path(id): Path<i64>, _: Csrf) -> Result<Response> {
    change(&admin, id, Action::SmtpServerDelete, async |tx| {
        tx.pg_execute(queries::SMTP_DELETE, &[&id]).await
    })
    .await
}
