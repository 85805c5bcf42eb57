//! Push notifications through Airship: `POST {base}/api/push` with Basic
//! auth (app key, master secret) and the version-3 Accept header. The app is
//! `[push]`'s, or a row of `outpost.push_apps` chosen by `options.app`.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use deadpool_postgres::Pool;
use reqwest::StatusCode;
use serde_json::{Value, json};

use super::stdout::StdoutSink;
use super::{Channel, Delivery, Envelope, SendError, provider_http};
use crate::config::{PushApp, Secret};
use crate::db::Pg;
use crate::db::statements;
use crate::render::Templates;

/// Airship's API version header (a request without it gets 406).
pub const ACCEPT: &str = "application/vnd.urbanairship+json; version=3";

/// Where a push goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Audience {
    /// An app install: the Channel ID the app shows, with its platform when known.
    Channel {
        id: String,
        device_type: Option<String>,
    },
    /// Every device of one of your users.
    NamedUser(String),
}

/// What a push says.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Notification {
    pub alert: String,
    pub title: Option<String>,
    pub deep_link: Option<String>,
    pub extra: serde_json::Map<String, Value>,
}

/// The `/api/push` request body.
pub fn payload(
    audience: &Audience,
    notification: &Notification,
    default_device_types: &[String],
) -> Value {
    let (audience, device_types) = match audience {
        Audience::Channel {
            id,
            device_type: Some(t),
        } => (json!({ format!("{t}_channel"): id }), vec![t.clone()]),
        Audience::Channel {
            id,
            device_type: None,
        } => (json!({ "channel": id }), default_device_types.to_vec()),
        Audience::NamedUser(user) => (json!({ "named_user": user }), default_device_types.to_vec()),
    };
    let extra: serde_json::Map<String, Value> = notification
        .extra
        .iter()
        .map(|(k, v)| {
            (
                k.clone(),
                Value::String(v.as_str().map_or_else(|| v.to_string(), str::to_owned)),
            )
        })
        .collect();
    let mut body = json!({ "alert": notification.alert });
    for platform in &device_types {
        let mut overrides = serde_json::Map::new();
        if let Some(title) = &notification.title {
            match platform.as_str() {
                "ios" => overrides.insert(
                    "alert".into(),
                    json!({"title": title, "body": notification.alert}),
                ),
                _ => overrides.insert("title".into(), json!(title)),
            };
        }
        if !extra.is_empty() && matches!(platform.as_str(), "ios" | "android" | "amazon") {
            overrides.insert("extra".into(), Value::Object(extra.clone()));
        }
        if !overrides.is_empty() {
            body[platform.as_str()] = Value::Object(overrides);
        }
    }
    if let Some(link) = &notification.deep_link {
        body["actions"] = json!({"open": {"type": "deep_link", "content": link}});
    }
    json!({ "audience": audience, "device_types": device_types, "notification": body })
}

/// Sends one push with `app`.
pub async fn push(
    client: &reqwest::Client,
    app: &PushApp,
    payload: &Value,
) -> Result<Delivery, SendError> {
    let response = client
        .post(format!("{}/api/push", app.base_url.trim_end_matches('/')))
        .basic_auth(&app.app_key, Some(app.master_secret.expose()))
        .header(reqwest::header::ACCEPT, ACCEPT)
        .json(payload)
        .send()
        .await
        // A timeout after the request left may still have delivered the push.
        .map_err(|e| {
            provider_http::network_error("Airship", e, " (the push may have been sent)")
        })?;
    let status = response.status();
    let retry_after = provider_http::retry_after(response.headers());
    let body: Value = response.json().await.unwrap_or(Value::Null);
    if status.is_success() {
        let id = body
            .get("push_ids")
            .and_then(|p| p.get(0))
            .or_else(|| body.get("operation_id"))
            .and_then(|v| v.as_str())
            .map(str::to_owned);
        let mut delivery = Delivery::id(id);
        if let Some(op) = body.get("operation_id").and_then(|v| v.as_str()) {
            delivery.note = Some(format!("Airship operation {op}"));
        }
        return Ok(delivery);
    }
    let mut error = classify(status, retry_after, &body);
    error.message = crate::scrub::credentials(&error.message, &[app.master_secret.expose()]);
    Err(error)
}

/// 400/401/403/406 and other 4xx are permanent (with Airship's `error` and
/// `details`); 429 waits; 5xx is transient.
pub fn classify(status: StatusCode, retry_after: Option<Duration>, body: &Value) -> SendError {
    let error = body
        .get("error")
        .and_then(|v| v.as_str())
        .unwrap_or_else(|| status.canonical_reason().unwrap_or("error"));
    let details = body
        .get("details")
        .map(|d| match d.get("error").and_then(|e| e.as_str()) {
            Some(text) => text.to_owned(),
            None => d.to_string(),
        });
    let message = match details {
        Some(details) => format!("Airship {}: {error} ({details})", status.as_u16()),
        None => format!("Airship {}: {error}", status.as_u16()),
    };
    let code = body
        .get("error_code")
        .and_then(|c| c.as_i64())
        .map_or_else(|| status.as_u16().to_string(), |c| c.to_string());
    let e = if status == StatusCode::TOO_MANY_REQUESTS {
        SendError::rate_limited(retry_after, message)
    } else if status.is_server_error() {
        SendError::transient(message)
    } else {
        SendError::permanent(message)
    };
    e.with_code(code)
}

/// The push channel.
pub struct AirshipChannel {
    client: reqwest::Client,
    default_app: Option<PushApp>,
    device_types: Vec<String>,
    pool: Pool,
    templates: Arc<Templates>,
}

impl AirshipChannel {
    pub fn new(
        default_app: Option<PushApp>,
        device_types: Vec<String>,
        pool: Pool,
        templates: Arc<Templates>,
        timeout: Duration,
    ) -> Result<Self, SendError> {
        Ok(Self {
            client: http_client(timeout)?,
            default_app,
            device_types,
            pool,
            templates,
        })
    }

    async fn app(&self, name: Option<&str>) -> Result<PushApp, SendError> {
        match name.filter(|n| !n.trim().is_empty()) {
            None => self
                .default_app
                .clone()
                .ok_or_else(|| SendError::permanent("no push app configured ([push] app_key)")),
            Some(name) => find_app(&self.pool, name).await,
        }
    }
}

/// An HTTP client for Airship.
pub fn http_client(timeout: Duration) -> Result<reqwest::Client, SendError> {
    provider_http::client(timeout)
}

/// An enabled app of `outpost.push_apps`.
pub async fn find_app(pool: &Pool, name: &str) -> Result<PushApp, SendError> {
    let unavailable =
        |e: String| SendError::transient(format!("cannot read outpost.push_apps: {e}"));
    let client = pool.get().await.map_err(|e| unavailable(e.to_string()))?;
    let row = client
        .pg_query_opt(statements::PUSH_APP, &[&name])
        .await
        .map_err(|e| unavailable(e.to_string()))?
        .ok_or_else(|| {
            SendError::permanent(format!(
                "unknown or disabled push app {name:?} (outpost.push_apps)"
            ))
        })?;
    let app = PushApp {
        name: row.get("name"),
        app_key: row.get("app_key"),
        master_secret: Secret::new(row.get::<_, String>("master_secret")),
        base_url: row.get("base_url"),
    };
    if app.master_secret.is_empty() {
        // The console clears it when the base URL changes; messages wait
        // until an operator types it again.
        return Err(SendError::transient(format!(
            "push app {name:?} has no master secret (cleared when its base URL changed): \
             set it in the console"
        )));
    }
    Ok(app)
}

#[async_trait]
impl Channel for AirshipChannel {
    fn name(&self) -> &str {
        "airship"
    }

    async fn send(&self, envelope: &Envelope) -> Result<Delivery, SendError> {
        let (app, audience, notification) = compose(&self.templates, envelope)?;
        let app = self.app(app.as_deref()).await?;
        push(
            &self.client,
            &app,
            &payload(&audience, &notification, &self.device_types),
        )
        .await
    }
}

/// The push a message becomes: its app (`options.app`), its audience (a
/// channel id with `options.device_type`, else the named user) and the
/// notification rendered in its locale; or why it cannot be sent. The same
/// checks on the console as on Airship.
fn compose(
    templates: &Templates,
    envelope: &Envelope,
) -> Result<(Option<String>, Audience, Notification), SendError> {
    let m = &envelope.message;
    let option = |key: &str| {
        m.options
            .get(key)
            .and_then(|v| v.as_str())
            .map(str::to_owned)
    };
    let audience = if m
        .to_address
        .as_deref()
        .is_some_and(|a| !a.trim().is_empty())
    {
        let device_type = option("device_type");
        if let Some(t) = &device_type
            && !matches!(t.as_str(), "ios" | "android" | "web" | "amazon")
        {
            return Err(SendError::permanent(format!(
                "options.device_type {t:?} is not ios, android, web or amazon"
            )));
        }
        Audience::Channel {
            id: envelope.to.clone(),
            device_type,
        }
    } else {
        Audience::NamedUser(envelope.to.clone())
    };
    let renderer = templates.get();
    let alert = envelope.text(&renderer, "push.txt", "push")?;
    let notification = Notification {
        alert: alert.trim().to_owned(),
        title: option("title").map(|t| renderer.catalogs().gettext(&envelope.locale, None, &t)),
        deep_link: option("deep_link"),
        extra: m
            .options
            .get("extra")
            .and_then(|e| e.as_object())
            .cloned()
            .unwrap_or_default(),
    };
    if notification.alert.is_empty() {
        return Err(SendError::permanent("the push alert is empty"));
    }
    Ok((option("app"), audience, notification))
}

/// Push on the console: composed and checked as for Airship, then the
/// request Airship would get printed instead of sent.
pub struct StdoutPush {
    device_types: Vec<String>,
    templates: Arc<Templates>,
    sink: StdoutSink,
}

impl StdoutPush {
    pub fn new(device_types: Vec<String>, templates: Arc<Templates>, sink: StdoutSink) -> Self {
        Self {
            device_types,
            templates,
            sink,
        }
    }
}

#[async_trait]
impl Channel for StdoutPush {
    fn name(&self) -> &str {
        "console"
    }

    async fn send(&self, envelope: &Envelope) -> Result<Delivery, SendError> {
        let (app, audience, notification) = compose(&self.templates, envelope)?;
        let body = payload(&audience, &notification, &self.device_types);
        let rule = "-".repeat(72);
        let out = format!(
            "{rule}\nOutpost-Id: {}\nKind: push\nLocale: {}\nApp: {}\nPOST /api/push\n{}\n{rule}\n",
            envelope.message.id,
            envelope.locale,
            app.as_deref().unwrap_or("default"),
            serde_json::to_string_pretty(&body).unwrap_or_default()
        );
        super::stdout::print(&self.sink, &out)?;
        Ok(Delivery::default())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payload_shapes() {
        let n = Notification {
            alert: "Salut!".into(),
            ..Notification::default()
        };
        let types = vec!["ios".to_owned(), "android".to_owned()];
        assert_eq!(
            payload(&Audience::NamedUser("user-42".into()), &n, &types),
            json!({"audience": {"named_user": "user-42"}, "device_types": ["ios", "android"], "notification": {"alert": "Salut!"}})
        );
        let rich = Notification {
            alert: "Audit due".into(),
            title: Some("MEG".into()),
            deep_link: Some("meg://audits/7".into()),
            extra: json!({"audit": 7}).as_object().unwrap().clone(),
        };
        let p = payload(
            &Audience::Channel {
                id: "c-1".into(),
                device_type: Some("android".into()),
            },
            &rich,
            &types,
        );
        assert_eq!(p["audience"], json!({"android_channel": "c-1"}));
        assert_eq!(p["device_types"], json!(["android"]));
        assert_eq!(
            p["notification"]["android"],
            json!({"title": "MEG", "extra": {"audit": "7"}})
        );
        assert_eq!(
            p["notification"]["actions"]["open"],
            json!({"type": "deep_link", "content": "meg://audits/7"})
        );
    }
}
