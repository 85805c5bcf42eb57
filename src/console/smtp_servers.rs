//! `/smtp-servers`: the servers `smtp_db` picks from (enabled, lowest
//! order): list, add, edit, enable, disable, reorder, delete (the tests of
//! a server are in `smtp_test`).
//! Passwords are write-only: shown as set / not set, replaced by typing a
//! new one, and cleared when the host, port, user name or security changes
//! without a new one typed in the same form.

use axum::extract::{Path, State};
use axum::response::{Html, IntoResponse, Redirect, Response};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::csrf::{Csrf, CsrfForm};
use super::form::{Refusal, Switch, respond};
use super::format::time;
use super::pages::PAGES;
use super::session::{Admin, Session};
use super::{ConsoleState, Result, audit, queries};

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

fn server(r: &tokio_postgres::Row) -> Server {
    Server {
        id: r.get("id"),
        name: r.get("name"),
        host: r.get("host"),
        port: r.get("port"),
        username: r.get("username"),
        password_set: r.get("password_set"),
        security: r.get("security"),
        timeout_seconds: r.get("timeout_seconds"),
        order: r.get("order"),
        enabled: r.get("enabled"),
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
    let rows = client.query(queries::SMTP_LIST, &[]).await?;
    let servers: Vec<Server> = rows.iter().map(server).collect();
    let updated: Vec<String> = rows.iter().map(|r| time(r.get("updated_at"))).collect();
    let in_use = servers.iter().find(|s| s.enabled).map(|s| s.id);
    PAGES.render(
        "smtp_servers.html",
        Some(&session),
        "smtp",
        ctx! { servers, updated, in_use },
    )
}

/// The add/edit form as posted.
#[derive(Debug, Deserialize, Default)]
pub struct ServerForm {
    #[serde(default)]
    name: String,
    #[serde(default)]
    host: String,
    #[serde(default)]
    port: String,
    #[serde(default)]
    username: String,
    /// Empty: keep the current password (cleared anyway when the host, port,
    /// user name or security changes).
    #[serde(default)]
    password: String,
    #[serde(default)]
    clear_password: Option<String>,
    #[serde(default)]
    security: String,
    #[serde(default)]
    order: String,
    #[serde(default)]
    timeout_seconds: String,
    #[serde(default)]
    enabled: Option<String>,
}

struct Checked {
    name: String,
    host: String,
    port: i32,
    username: String,
    security: String,
    order: Option<i32>,
    timeout_seconds: i32,
}

impl ServerForm {
    fn check(&self) -> Result<Checked, Refusal> {
        let name = self.name.trim();
        if name.is_empty() {
            return Err(Refusal::new("name", "required"));
        }
        let host = self.host.trim();
        if host.is_empty() || host.contains(char::is_whitespace) {
            return Err(Refusal::new("host", "required, without spaces"));
        }
        let port: i32 = self
            .port
            .trim()
            .parse()
            .ok()
            .filter(|p| (1..=65535).contains(p))
            .ok_or(Refusal::new("port", "a number from 1 to 65535"))?;
        if !matches!(self.security.as_str(), "none" | "starttls" | "tls") {
            return Err(Refusal::new("security", "none, starttls or tls"));
        }
        let order = match self.order.trim() {
            "" => None,
            o => Some(
                o.parse()
                    .map_err(|_| Refusal::new("order", "a whole number"))?,
            ),
        };
        let timeout_seconds = match self.timeout_seconds.trim() {
            "" => 60,
            t => t
                .parse()
                .ok()
                .filter(|t| *t > 0)
                .ok_or(Refusal::new("timeout", "a positive number of seconds"))?,
        };
        Ok(Checked {
            name: name.to_owned(),
            host: host.to_owned(),
            port,
            username: self.username.trim().to_owned(),
            security: self.security.clone(),
            order,
            timeout_seconds,
        })
    }
}

fn form_page(session: &Session, server: Option<Value>, error: Option<Refusal>) -> Result<Response> {
    let page = PAGES.render(
        "smtp_server_form.html",
        Some(session),
        "smtp",
        ctx! { server, error },
    )?;
    Ok(respond(page, error.as_ref()))
}

/// What a form posted, for showing it again with an error (never the password).
fn echo(form: &ServerForm, id: Option<i64>, password_set: bool) -> Value {
    json!({
        "id": id, "name": form.name, "host": form.host, "port": form.port,
        "username": form.username, "security": form.security, "order": form.order,
        "timeout_seconds": form.timeout_seconds, "password_set": password_set,
        "enabled": form.enabled.is_some(),
    })
}

/// A database refusal (duplicate name, a CHECK) in words.
fn refusal(e: &tokio_postgres::Error) -> Option<Refusal> {
    e.as_db_error().map(|d| match d.constraint() {
        Some("smtp_servers_name_key") => Refusal::new("name", "another server has this name"),
        _ => Refusal::new("server", d.message().to_owned()),
    })
}

/// `GET /smtp-servers/new`.
pub async fn new_form(session: Session) -> Result<Response> {
    form_page(
        &session,
        Some(
            json!({"port": "587", "security": "starttls", "timeout_seconds": "60", "enabled": true}),
        ),
        None,
    )
}

/// `POST /smtp-servers`: add one.
pub async fn create(
    State(state): State<ConsoleState>,
    session: Admin,
    CsrfForm(form): CsrfForm<ServerForm>,
) -> Result<Response> {
    let checked = match form.check() {
        Ok(c) => c,
        Err(e) => return form_page(&session, Some(echo(&form, None, false)), Some(e)),
    };
    let mut client = state.pool.get().await?;
    let tx = client.transaction().await?;
    let inserted = tx
        .query_one(
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
        Ok(row) => row.get("id"),
        Err(e) => match refusal(&e) {
            Some(reason) => {
                return form_page(&session, Some(echo(&form, None, false)), Some(reason));
            }
            None => return Err(e.into()),
        },
    };
    let after = server(&tx.query_one(queries::SMTP_GET, &[&id]).await?);
    audit::record(
        &tx,
        &session,
        "smtp_server.add",
        &format!("smtp server {}", after.name),
        None,
        Some(audited(&after)),
    )
    .await?;
    tx.commit().await?;
    Ok(Redirect::to("/smtp-servers").into_response())
}

pub(super) async fn load(
    client: &impl deadpool_postgres::GenericClient,
    id: i64,
) -> Result<tokio_postgres::Row> {
    queries::found(client, queries::SMTP_GET, &[&id]).await
}

/// `GET /smtp-servers/{id}`: the edit form (the password never included).
pub async fn edit_form(
    State(state): State<ConsoleState>,
    session: Session,
    Path(id): Path<i64>,
) -> Result<Response> {
    let client = state.pool.get().await?;
    let s = server(&load(&client, id).await?);
    form_page(
        &session,
        Some(serde_json::to_value(&s).unwrap_or_default()),
        None,
    )
}

/// `POST /smtp-servers/{id}`: save an edit.
pub async fn update(
    State(state): State<ConsoleState>,
    session: Admin,
    Path(id): Path<i64>,
    CsrfForm(form): CsrfForm<ServerForm>,
) -> Result<Response> {
    let mut client = state.pool.get().await?;
    let tx = client.transaction().await?;
    let before = server(&load(&tx, id).await?);
    let checked = match form.check() {
        Ok(c) => c,
        Err(e) => {
            return form_page(
                &session,
                Some(echo(&form, Some(id), before.password_set)),
                Some(e),
            );
        }
    };
    let password: Option<String> = if form.clear_password.is_some() {
        Some(String::new())
    } else {
        Some(form.password.clone()).filter(|p| !p.is_empty())
    };
    let order = checked.order.unwrap_or(before.order);
    let cleared = match tx
        .query_opt(
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
        .await
    {
        Ok(row) => match row {
            Some(row) => row.try_get::<_, bool>("cleared")?,
            None => return Err(super::ConsoleError::NotFound),
        },
        Err(e) => {
            return match refusal(&e) {
                Some(reason) => form_page(
                    &session,
                    Some(echo(&form, Some(id), before.password_set)),
                    Some(reason),
                ),
                None => Err(e.into()),
            };
        }
    };
    let after = server(&load(&tx, id).await?);
    let mut after_audit = audited(&after);
    if password.as_deref().is_some_and(|p| !p.is_empty()) {
        after_audit["password"] = json!("replaced");
    } else if cleared {
        after_audit["password"] = json!("cleared: host, port, user name or security changed");
    } else if form.clear_password.is_some() && before.password_set {
        after_audit["password"] = json!("cleared");
    }
    audit::record(
        &tx,
        &session,
        "smtp_server.edit",
        &format!("smtp server {}", after.name),
        Some(audited(&before)),
        Some(after_audit),
    )
    .await?;
    tx.commit().await?;
    Ok(Redirect::to("/smtp-servers").into_response())
}

async fn change(
    state: &ConsoleState,
    session: &Session,
    id: i64,
    action: &str,
    apply: impl AsyncFnOnce(&tokio_postgres::Transaction<'_>) -> Result<u64, tokio_postgres::Error>,
) -> Result<Response> {
    let mut client = state.pool.get().await?;
    let tx = client.transaction().await?;
    let before = server(&load(&tx, id).await?);
    apply(&tx).await?;
    let after = tx
        .query_opt(queries::SMTP_GET, &[&id])
        .await?
        .map(|r| audited(&server(&r)));
    audit::record(
        &tx,
        session,
        action,
        &format!("smtp server {}", before.name),
        Some(audited(&before)),
        after,
    )
    .await?;
    tx.commit().await?;
    Ok(Redirect::to("/smtp-servers").into_response())
}

/// `POST /smtp-servers/{id}/enable` and `…/disable`.
pub async fn switch(
    State(state): State<ConsoleState>,
    session: Admin,
    Path((id, to)): Path<(i64, Switch)>,
    _: Csrf,
) -> Result<Response> {
    change(
        &state,
        &session,
        id,
        &to.action("smtp_server"),
        async |tx| tx.execute(queries::SMTP_ENABLE, &[&id, &to.on()]).await,
    )
    .await
}

#[derive(Deserialize)]
pub struct MoveForm {
    direction: String,
}

/// `POST /smtp-servers/{id}/move` with `direction` up or down.
pub async fn reorder(
    State(state): State<ConsoleState>,
    session: Admin,
    Path(id): Path<i64>,
    CsrfForm(form): CsrfForm<MoveForm>,
) -> Result<Response> {
    let direction = match form.direction.as_str() {
        "up" => "up",
        "down" => "down",
        _ => return Err(Refusal::new("direction", "up or down").into()),
    };
    change(
        &state,
        &session,
        id,
        &format!("smtp_server.move_{direction}"),
        async |tx| tx.execute(queries::SMTP_SWAP, &[&id, &direction]).await,
    )
    .await
}

/// `POST /smtp-servers/{id}/delete`.
pub async fn delete(
    State(state): State<ConsoleState>,
    session: Admin,
    Path(id): Path<i64>,
    _: Csrf,
) -> Result<Response> {
    change(&state, &session, id, "smtp_server.delete", async |tx| {
        tx.execute(queries::SMTP_DELETE, &[&id]).await
    })
    .await
}
