//! `/push-apps`: the client app (`[push]`, read-only here) and the eGuide
//! apps of `outpost.push_apps` (add, edit, enable, disable); "send test
//! push" is in `push_test`. Master secrets are write-only, and cleared
//! when the base URL changes without a new one typed in the same form.

use crate::db::Pg;
use axum::extract::{Path, State};
use axum::response::{Html, IntoResponse, Redirect, Response};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use tokio_postgres::Row;
use tokio_postgres::error::SqlState;

use super::audit::{self, Action, Change, Ending};
use super::csrf::{Csrf, CsrfForm};
use super::form::{Refusal, Switch, respond};
use super::pages;
use super::session::{Admin, Session};
use super::{ConsoleError, ConsoleState, Result, queries};

#[derive(Serialize)]
struct App {
    name: String,
    app_key: String,
    secret_set: bool,
    base_url: String,
    enabled: bool,
}

from_row!(App {
    name,
    app_key,
    secret_set,
    base_url,
    enabled,
});

fn audited(a: &App) -> Value {
    json!({
        "name": a.name, "app_key": a.app_key, "base_url": a.base_url, "enabled": a.enabled,
        "master_secret": if a.secret_set { "set" } else { "not set" },
    })
}

/// The `[push]` client app, as the list shows it.
#[derive(Serialize)]
struct DefaultApp {
    app_key: String,
    base_url: String,
    secret_set: bool,
}

/// The list page.
#[derive(Serialize, Default)]
pub(super) struct AppsPage {
    apps: Vec<App>,
    default_app: Option<DefaultApp>,
    backend: String,
}

/// The add/edit form page.
#[derive(Serialize, Default)]
pub(super) struct FormPage {
    app: Fields,
    error: Option<Refusal>,
}

/// An app's fields as the form shows them (never the secret).
#[derive(Serialize, Default)]
struct Fields {
    name: String,
    app_key: String,
    base_url: String,
    enabled: bool,
    editing: bool,
    secret_set: bool,
}

page! {
    AppsPage => "push_apps.html", "push";
    FormPage => "push_app_form.html", "push";
}

/// `GET /push-apps`.
pub async fn list(State(state): State<ConsoleState>, session: Session) -> Result<Html<String>> {
    let client = state.pool.get().await?;
    let rows = client.pg_query(queries::PUSH_LIST, &[]).await?;
    let default_app = state.config.push_app.as_ref().map(|a| DefaultApp {
        app_key: a.app_key.clone(),
        base_url: a.base_url.clone(),
        secret_set: !a.master_secret.is_empty(),
    });
    let page = AppsPage {
        apps: queries::decode(&rows)?,
        default_app,
        backend: state.config.raw.push.backend.clone(),
    };
    pages::render(&session, &page)
}

/// The add/edit form as posted: a missing field is empty.
#[derive(Debug, Deserialize, Default)]
#[serde(default)]
pub struct AppForm {
    name: String,
    app_key: String,
    /// Empty: keep the current secret (cleared anyway when the base URL changes).
    master_secret: String,
    base_url: String,
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

    fn echo(&self, editing: bool, secret_set: bool) -> Fields {
        Fields {
            name: self.name.clone(),
            app_key: self.app_key.clone(),
            base_url: self.base_url.clone(),
            enabled: self.enabled.is_some(),
            editing,
            secret_set,
        }
    }
}

fn valid_name(name: &str) -> bool {
    (1..=64).contains(&name.len())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
}

fn form_page(session: &Session, app: Fields, error: Option<Refusal>) -> Result<Response> {
    let page = FormPage { app, error };
    Ok(respond(pages::render(session, &page)?, page.error.as_ref()))
}

fn back() -> Response {
    Redirect::to("/push-apps").into_response()
}

pub(super) fn object(name: &str) -> String {
    format!("push app {name}")
}

/// `GET /push-apps/new`.
pub async fn new_form(session: Session) -> Result<Response> {
    let app = Fields {
        base_url: "https://go.urbanairship.com".into(),
        enabled: true,
        ..Fields::default()
    };
    form_page(&session, app, None)
}

/// `POST /push-apps`: add an eGuide app.
pub async fn create(admin: Admin, CsrfForm(form): CsrfForm<AppForm>) -> Result<Response> {
    if let Err(e) = form.check(true) {
        return form_page(&admin, form.echo(false, false), Some(e));
    }
    let name = form.name.trim();
    audit::change(&admin, async |tx| {
        let inserted = tx
            .pg_execute(
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
        match inserted {
            Err(e)
                if e.as_db_error()
                    .is_some_and(|d| d.code() == &SqlState::UNIQUE_VIOLATION) =>
            {
                let refusal = Refusal::new("name", "an app with this name exists");
                let page = form_page(&admin, form.echo(false, false), Some(refusal))?;
                return Ok(Ending::Refused(page));
            }
            inserted => inserted?,
        };
        let after = load(tx, name).await?;
        let change = Change::new(Action::PushAppAdd, object(name)).after(audited(&after));
        Ok(Ending::Changed(change, back()))
    })
    .await
}

/// Push app `name`'s row, secret included (for test pushes; never shown), or 404.
pub(super) async fn load_row(client: &impl Pg, name: &str) -> Result<Row> {
    queries::found(client, queries::PUSH_GET, &[&name]).await
}

/// Push app `name` (its secret only as set / not set), or 404.
async fn load(client: &impl Pg, name: &str) -> Result<App> {
    Ok(App::try_from(&load_row(client, name).await?)?)
}

/// `GET /push-apps/{name}`.
pub async fn edit_form(
    State(state): State<ConsoleState>,
    session: Session,
    Path(name): Path<String>,
) -> Result<Response> {
    let client = state.pool.get().await?;
    let a = load(&client, &name).await?;
    let app = Fields {
        name: a.name,
        app_key: a.app_key,
        base_url: a.base_url,
        enabled: a.enabled,
        editing: true,
        secret_set: a.secret_set,
    };
    form_page(&session, app, None)
}

/// `POST /push-apps/{name}`: save an edit.
pub async fn update(
    admin: Admin,
    Path(name): Path<String>,
    CsrfForm(mut form): CsrfForm<AppForm>,
) -> Result<Response> {
    form.name = name.clone();
    audit::change(&admin, async |tx| {
        let before = load(tx, &name).await?;
        if let Err(e) = form.check(false) {
            let page = form_page(&admin, form.echo(true, before.secret_set), Some(e))?;
            return Ok(Ending::Refused(page));
        }
        let secret = Some(form.master_secret.clone()).filter(|s| !s.is_empty());
        let cleared: bool = tx
            .pg_query_opt(
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
        let after = load(tx, &name).await?;
        let mut after_audit = audited(&after);
        if secret.is_some() {
            after_audit["master_secret"] = json!("replaced");
        } else if cleared {
            after_audit["master_secret"] = json!("cleared: base URL changed");
        }
        let change = Change::new(Action::PushAppEdit, object(&name))
            .before(audited(&before))
            .after(after_audit);
        Ok(Ending::Changed(change, back()))
    })
    .await
}

/// `POST /push-apps/{name}/enable` and `…/disable`.
pub async fn switch(
    admin: Admin,
    Path((name, to)): Path<(String, Switch)>,
    _: Csrf,
) -> Result<Response> {
    audit::change(&admin, async |tx| {
        let before = load(tx, &name).await?;
        tx.pg_execute(queries::PUSH_ENABLE, &[&name, &to.on()])
            .await?;
        let after = load(tx, &name).await?;
        let action = to.pick(Action::PushAppEnable, Action::PushAppDisable);
        let change = Change::new(action, object(&name))
            .before(audited(&before))
            .after(audited(&after));
        Ok(Ending::Changed(change, back()))
    })
    .await
}
