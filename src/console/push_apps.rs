//! `/push-apps`: the client app (`[push]`, read-only here) and the eGuide
//! apps of `outpost.push_apps` (add, edit, enable, disable), and "send test
//! push" to one Channel ID with Airship's answer, as the original admin
//! action did. Master secrets are write-only, and cleared when the base URL
//! changes without a new one typed in the same form.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Redirect, Response};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::csrf::{Csrf, CsrfForm};
use super::form::{Refusal, Switch, respond};
use super::pages::{self, ActionResult, PAGES};
use super::session::{Admin, Session};
use super::{ConsoleError, ConsoleState, Result, audit, queries};
use crate::channel::airship::{self, Audience, Notification};
use crate::config::{PushApp, Secret};

#[derive(Serialize)]
struct App {
    name: String,
    app_key: String,
    secret_set: bool,
    base_url: String,
    enabled: bool,
}

fn app(r: &tokio_postgres::Row) -> App {
    App {
        name: r.get("name"),
        app_key: r.get("app_key"),
        secret_set: r.get("secret_set"),
        base_url: r.get("base_url"),
        enabled: r.get("enabled"),
    }
}

fn audited(a: &App) -> Value {
    json!({
        "name": a.name, "app_key": a.app_key, "base_url": a.base_url, "enabled": a.enabled,
        "master_secret": if a.secret_set { "set" } else { "not set" },
    })
}

/// `GET /push-apps`.
pub async fn list(State(state): State<ConsoleState>, session: Session) -> Result<Html<String>> {
    let client = state.pool.get().await?;
    let apps: Vec<App> = client
        .query(queries::PUSH_LIST, &[])
        .await?
        .iter()
        .map(app)
        .collect();
    let default_app = state.config.push_app.as_ref().map(|a| {
        json!({ "app_key": a.app_key, "base_url": a.base_url, "secret_set": !a.master_secret.is_empty() })
    });
    PAGES.render(
        "push_apps.html",
        Some(&session),
        "push",
        ctx! { apps, default_app, backend => state.config.raw.push.backend.clone() },
    )
}

#[derive(Debug, Deserialize, Default)]
pub struct AppForm {
    #[serde(default)]
    name: String,
    #[serde(default)]
    app_key: String,
    /// Empty: keep the current secret (cleared anyway when the base URL changes).
    #[serde(default)]
    master_secret: String,
    #[serde(default)]
    base_url: String,
    #[serde(default)]
    enabled: Option<String>,
}

impl AppForm {
    fn check(&self, new: bool) -> Result<(), Refusal> {
        if new && !valid_name(self.name.trim()) {
            return Err(Refusal::new(
                "name",
                "1 to 64 letters, digits, '.', '_' or '-'",
            ));
        }
        if self.app_key.trim().is_empty() {
            return Err(Refusal::new("app key", "required"));
        }
        if new && self.master_secret.is_empty() {
            return Err(Refusal::new("master secret", "required"));
        }
        let base = self.base_url.trim();
        if !(base.starts_with("https://") || base.starts_with("http://")) {
            return Err(Refusal::new(
                "base URL",
                "an http(s) URL such as https://go.airship.eu",
            ));
        }
        Ok(())
    }

    fn echo(&self, editing: bool, secret_set: bool) -> Value {
        json!({ "name": self.name, "app_key": self.app_key, "base_url": self.base_url,
                "enabled": self.enabled.is_some(), "editing": editing, "secret_set": secret_set })
    }
}

fn valid_name(name: &str) -> bool {
    (1..=64).contains(&name.len())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
}

fn form_page(session: &Session, app: Value, error: Option<Refusal>) -> Result<Response> {
    let page = PAGES.render(
        "push_app_form.html",
        Some(session),
        "push",
        ctx! { app, error },
    )?;
    Ok(respond(page, error.as_ref()))
}

/// `GET /push-apps/new`.
pub async fn new_form(session: Session) -> Result<Response> {
    form_page(
        &session,
        json!({ "base_url": "https://go.urbanairship.com", "enabled": true }),
        None,
    )
}

/// `POST /push-apps`: add an eGuide app.
pub async fn create(
    State(state): State<ConsoleState>,
    session: Admin,
    CsrfForm(form): CsrfForm<AppForm>,
) -> Result<Response> {
    if let Err(e) = form.check(true) {
        return form_page(&session, form.echo(false, false), Some(e));
    }
    let mut client = state.pool.get().await?;
    let tx = client.transaction().await?;
    let name = form.name.trim();
    let inserted = tx
        .execute(
            queries::PUSH_INSERT,
            &[
                &name,
                &form.app_key.trim(),
                &form.master_secret,
                &form.base_url.trim().trim_end_matches('/'),
                &form.enabled.is_some(),
            ],
        )
        .await;
    if let Err(e) = inserted {
        if e.as_db_error()
            .is_some_and(|d| d.code() == &tokio_postgres::error::SqlState::UNIQUE_VIOLATION)
        {
            return form_page(
                &session,
                form.echo(false, false),
                Some(Refusal::new("name", "an app with this name exists")),
            );
        }
        return Err(e.into());
    }
    let after = app(&load(&tx, name).await?);
    audit::record(
        &tx,
        &session,
        "push_app.add",
        &format!("push app {name}"),
        None,
        Some(audited(&after)),
    )
    .await?;
    tx.commit().await?;
    Ok(Redirect::to("/push-apps").into_response())
}

async fn load(
    client: &impl deadpool_postgres::GenericClient,
    name: &str,
) -> Result<tokio_postgres::Row> {
    queries::found(client, queries::PUSH_GET, &[&name]).await
}

/// `GET /push-apps/{name}`.
pub async fn edit_form(
    State(state): State<ConsoleState>,
    session: Session,
    Path(name): Path<String>,
) -> Result<Response> {
    let client = state.pool.get().await?;
    let a = app(&load(&client, &name).await?);
    let mut value = serde_json::to_value(&a).unwrap_or_default();
    value["editing"] = json!(true);
    form_page(&session, value, None)
}

/// `POST /push-apps/{name}`: save an edit.
pub async fn update(
    State(state): State<ConsoleState>,
    session: Admin,
    Path(name): Path<String>,
    CsrfForm(mut form): CsrfForm<AppForm>,
) -> Result<Response> {
    let mut client = state.pool.get().await?;
    let tx = client.transaction().await?;
    let before = app(&load(&tx, &name).await?);
    form.name = name.clone();
    if let Err(e) = form.check(false) {
        return form_page(&session, form.echo(true, before.secret_set), Some(e));
    }
    let secret = Some(form.master_secret.clone()).filter(|s| !s.is_empty());
    let cleared: bool = tx
        .query_opt(
            queries::PUSH_UPDATE,
            &[
                &name,
                &form.app_key.trim(),
                &secret,
                &form.base_url.trim().trim_end_matches('/'),
            ],
        )
        .await?
        .ok_or(ConsoleError::NotFound)?
        .try_get("cleared")?;
    let after = app(&load(&tx, &name).await?);
    let mut after_audit = audited(&after);
    if secret.is_some() {
        after_audit["master_secret"] = json!("replaced");
    } else if cleared {
        after_audit["master_secret"] = json!("cleared: base URL changed");
    }
    audit::record(
        &tx,
        &session,
        "push_app.edit",
        &format!("push app {name}"),
        Some(audited(&before)),
        Some(after_audit),
    )
    .await?;
    tx.commit().await?;
    Ok(Redirect::to("/push-apps").into_response())
}

/// `POST /push-apps/{name}/enable` and `…/disable`.
pub async fn switch(
    State(state): State<ConsoleState>,
    session: Admin,
    Path((name, to)): Path<(String, Switch)>,
    _: Csrf,
) -> Result<Response> {
    let mut client = state.pool.get().await?;
    let tx = client.transaction().await?;
    let before = app(&load(&tx, &name).await?);
    tx.execute(queries::PUSH_ENABLE, &[&name, &to.on()]).await?;
    let after = app(&load(&tx, &name).await?);
    audit::record(
        &tx,
        &session,
        &to.action("push_app"),
        &format!("push app {name}"),
        Some(audited(&before)),
        Some(audited(&after)),
    )
    .await?;
    tx.commit().await?;
    Ok(Redirect::to("/push-apps").into_response())
}

#[derive(Deserialize)]
pub struct TestForm {
    /// Empty: the `[push]` client app.
    #[serde(default)]
    app: String,
    channel: String,
    #[serde(default)]
    device_type: String,
    #[serde(default)]
    message: String,
}

/// `POST /push-apps/test`: one push to one Channel ID; Airship's answer.
pub async fn test_push(
    State(state): State<ConsoleState>,
    session: Admin,
    CsrfForm(form): CsrfForm<TestForm>,
) -> Result<Response> {
    let channel = form.channel.trim();
    let device_type = Some(form.device_type.trim().to_owned()).filter(|t| !t.is_empty());
    let reply = |outcome: ActionResult| -> Result<Response> {
        pages::result(&session, "push", "Send test push", "/push-apps", outcome)
    };
    if channel.is_empty() || channel.len() > 128 || channel.contains(char::is_whitespace) {
        return reply(ActionResult::failed(
            StatusCode::BAD_REQUEST,
            "Channel ID: required, without spaces (the app shows it in its \"About app\" screen).",
        ));
    }
    if device_type
        .as_deref()
        .is_some_and(|t| !matches!(t, "ios" | "android" | "web" | "amazon"))
    {
        return reply(ActionResult::failed(
            StatusCode::BAD_REQUEST,
            "device type: ios, android, web or amazon",
        ));
    }
    let client = state.pool.get().await?;
    let app = match form.app.trim() {
        "" => match &state.config.push_app {
            Some(app) => app.clone(),
            None => {
                return reply(ActionResult::failed(
                    StatusCode::BAD_REQUEST,
                    "No client app is configured ([push] app_key); choose an eGuide app.",
                ));
            }
        },
        name => {
            let r = load(&client, name).await?;
            PushApp {
                name: r.try_get("name")?,
                app_key: r.try_get("app_key")?,
                master_secret: Secret::new(r.try_get::<_, String>("master_secret")?),
                base_url: r.try_get("base_url")?,
            }
        }
    };
    if app.master_secret.is_empty() {
        return reply(ActionResult::failed(
            StatusCode::BAD_REQUEST,
            format!(
                "Push app {} has no master secret (it is cleared when the base URL changes): \
                 edit the app and type it again. Nothing was sent to {}.",
                app.name, app.base_url
            ),
        ));
    }
    let http =
        airship::http_client(state.config.dispatch.send_timeout).map_err(ConsoleError::Setup)?;
    let notification = Notification {
        alert: Some(form.message.trim().to_owned())
            .filter(|m| !m.is_empty())
            .unwrap_or_else(|| "Test notification from Outpost".to_owned()),
        ..Notification::default()
    };
    let audience = Audience::Channel {
        id: channel.to_owned(),
        device_type,
    };
    let payload = airship::payload(&audience, &notification, &state.config.push_device_types);
    let result = airship::push(&http, &app, &payload).await;
    audit::record(
        &client,
        &session,
        "push_app.test_push",
        &format!("push app {}", app.name),
        None,
        Some(json!({ "channel": channel, "ok": result.is_ok() })),
    )
    .await?;
    match result {
        Ok(delivery) => reply(ActionResult::done(format!(
            "Airship accepted the push to channel {channel} with app {}: push id {}{}.",
            app.name,
            delivery.provider_message_id.as_deref().unwrap_or("-"),
            delivery.note.map(|n| format!(" ({n})")).unwrap_or_default()
        ))),
        Err(e) => reply(ActionResult::failed(
            StatusCode::BAD_GATEWAY,
            format!(
                "Airship refused the push to channel {channel} with app {}: {}",
                app.name, e.message
            ),
        )),
    }
}
