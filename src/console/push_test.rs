//! "Send test push" from the console: one push to one Channel ID, through
//! the `[push]` client app or an eGuide app, with Airship's answer, as the
//! original admin action did; recorded in the audit log.

use axum::extract::State;
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
            let r = load_row(&client, name).await?;
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
    let change = Change::new(Action::PushAppTestPush, object(&app.name))
        .after(json!({ "channel": channel, "ok": result.is_ok() }));
    audit::record(&client, &session, &change).await?;
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
