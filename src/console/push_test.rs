//! "Send test push" from the console: one push to one Channel ID, through
//! the `[push]` client app or an eGuide app, with Airship's answer, as the
//! original admin action did; recorded in the audit log.

use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;
use serde_json::json;

use super::audit::{self, Action, Change};
use super::csrf::CsrfForm;
use super::pages::{self, ActionResult};
use super::push_apps::{load_row, object};
use super::session::Admin;
use super::{ConsoleError, ConsoleState, Result};
use crate::channel::airship::{self, Audience, Notification};
use crate::config::{PushApp, Secret};

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
pub async fn test_push(admin: Admin, CsrfForm(form): CsrfForm<TestForm>) -> Result<Response> {
    let outcome = attempt(&admin, &form).await?;
    pages::result(&admin, "push", "Send test push", "/push-apps", outcome)
}

/// Refused before anything is sent, and why.
fn refused(text: impl Into<String>) -> ActionResult {
    ActionResult::failed(StatusCode::BAD_REQUEST, text)
}

impl TestForm {
    /// What is wrong with the channel or the device type, if anything.
    fn problem(&self) -> Option<&'static str> {
        let channel = self.channel.trim();
        if channel.is_empty() || channel.len() > 128 || channel.contains(char::is_whitespace) {
            return Some(
                "Channel ID: required, without spaces (the app shows it in its \"About app\" screen).",
            );
        }
        let device_type = self.device_type.trim();
        if !device_type.is_empty() && !matches!(device_type, "ios" | "android" | "web" | "amazon") {
            return Some("device type: ios, android, web or amazon");
        }
        None
    }
}

/// The push, its audit entry and Airship's answer.
async fn attempt(admin: &Admin, form: &TestForm) -> Result<ActionResult> {
    if let Some(problem) = form.problem() {
        return Ok(refused(problem));
    }
    let client = admin.state.pool.get().await?;
    let app = match chosen(&admin.state, &client, form.app.trim()).await? {
        Ok(app) => app,
        Err(why) => return Ok(refused(why)),
    };
    if app.master_secret.is_empty() {
        return Ok(refused(format!(
            "Push app {} has no master secret (it is cleared when the base URL changes): \
             edit the app and type it again. Nothing was sent to {}.",
            app.name, app.base_url
        )));
    }
    let channel = form.channel.trim();
    let result = push(&admin.state, &app, form).await?;
    let change = Change::new(Action::PushAppTestPush, object(&app.name))
        .after(json!({ "channel": channel, "ok": result.is_ok() }));
    audit::record(&client, admin, &change).await?;
    Ok(match result {
        Ok(delivery) => ActionResult::done(format!(
            "Airship accepted the push to channel {channel} with app {}: push id {}{}.",
            app.name,
            delivery.provider_message_id.as_deref().unwrap_or("-"),
            delivery.note.map(|n| format!(" ({n})")).unwrap_or_default()
        )),
        Err(e) => ActionResult::failed(
            StatusCode::BAD_GATEWAY,
            format!(
                "Airship refused the push to channel {channel} with app {}: {}",
                app.name, e.message
            ),
        ),
    })
}

/// The app the form names: the `[push]` client app when none, else an
/// eGuide app with its secret; or why there is none to use.
async fn chosen(
    state: &ConsoleState,
    client: &deadpool_postgres::Object,
    name: &str,
) -> Result<Result<PushApp, &'static str>> {
    if name.is_empty() {
        return Ok(state
            .config
            .push_app
            .clone()
            .ok_or("No client app is configured ([push] app_key); choose an eGuide app."));
    }
    let r = load_row(client, name).await?;
    Ok(Ok(PushApp {
        name: r.try_get("name")?,
        app_key: r.try_get("app_key")?,
        master_secret: Secret::new(r.try_get::<_, String>("master_secret")?),
        base_url: r.try_get("base_url")?,
    }))
}

/// Sends the form's push through `app`: Airship's answer.
async fn push(
    state: &ConsoleState,
    app: &PushApp,
    form: &TestForm,
) -> Result<Result<crate::channel::Delivery, crate::channel::SendError>> {
    let http =
        airship::http_client(state.config.dispatch.send_timeout).map_err(ConsoleError::Setup)?;
    let notification = Notification {
        alert: Some(form.message.trim().to_owned())
            .filter(|m| !m.is_empty())
            .unwrap_or_else(|| "Test notification from Outpost".to_owned()),
        ..Notification::default()
    };
    let audience = Audience::Channel {
        id: form.channel.trim().to_owned(),
        device_type: Some(form.device_type.trim().to_owned()).filter(|t| !t.is_empty()),
    };
    let payload = airship::payload(&audience, &notification, &state.config.push_device_types);
    Ok(airship::push(&http, app, &payload).await)
}
