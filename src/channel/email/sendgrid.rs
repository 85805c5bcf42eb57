//! SendGrid v3 Mail Send: `POST {base}/v3/mail/send` with a Bearer key.
//! 202 + `X-Message-Id` is success; 429 and 5xx are transient (Retry-After or
//! X-RateLimit-Reset honoured); other 4xx are permanent with SendGrid's
//! `errors[].message` in the error.

use std::time::Duration;

use async_trait::async_trait;
use base64::Engine as _;
use lettre::message::Mailbox;
use reqwest::StatusCode;
use reqwest::header::HeaderMap;
use serde_json::{Value, json};

use super::{Email, MailTransport};
use crate::channel::{Delivery, SendError, provider_http};
use crate::config::Secret;

pub struct SendGridMail {
    client: reqwest::Client,
    url: String,
    api_key: Secret,
}

impl SendGridMail {
    /// `base_url` without the path, e.g. `https://api.sendgrid.com`.
    pub fn new(base_url: &str, api_key: Secret, timeout: Duration) -> Result<Self, SendError> {
        let client = provider_http::client(timeout)?;
        Ok(Self {
            client,
            url: format!("{}/v3/mail/send", base_url.trim_end_matches('/')),
            api_key,
        })
    }
}

fn address(m: &Mailbox) -> Value {
    match &m.name {
        Some(name) if !name.is_empty() => json!({"email": m.email.to_string(), "name": name}),
        _ => json!({"email": m.email.to_string()}),
    }
}

/// The Mail Send request body for `email`.
pub fn body(email: &Email) -> Value {
    let mut personalization = json!({
        "to": email.to.iter().map(address).collect::<Vec<_>>(),
        // Per personalization: the spec types message-level custom_args as a string.
        "custom_args": email.custom_args,
    });
    if !email.cc.is_empty() {
        personalization["cc"] = email.cc.iter().map(address).collect();
    }
    if !email.bcc.is_empty() {
        personalization["bcc"] = email.bcc.iter().map(address).collect();
    }
    let mut headers = serde_json::Map::new();
    headers.insert("Message-ID".into(), email.message_id.clone().into());
    for (k, v) in &email.headers {
        headers.insert(k.clone(), v.clone().into());
    }
    let mut body = json!({
        "personalizations": [personalization],
        "from": address(&email.from),
        "subject": email.subject,
        "content": content(email),
        "headers": headers,
    });
    match email.reply_to.as_slice() {
        [] => {}
        [one] => body["reply_to"] = address(one),
        many => body["reply_to_list"] = many.iter().map(address).collect(),
    }
    if !email.categories.is_empty() {
        body["categories"] = json!(email.categories);
    }
    if !email.attachments.is_empty() {
        body["attachments"] = email
            .attachments
            .iter()
            .map(|a| {
                let mut item = json!({
                    "content": base64::engine::general_purpose::STANDARD.encode(&a.content),
                    // SendGrid requires a name; a nameless part is known by its Content-ID.
                    "filename": a.filename.clone()
                        .or_else(|| a.content_id.clone())
                        .unwrap_or_else(|| "attachment".into()),
                    "type": a.content_type,
                    "disposition": if a.inline { "inline" } else { "attachment" },
                });
                if let Some(id) = &a.content_id {
                    item["content_id"] = id.clone().into();
                }
                item
            })
            .collect();
    }
    body
}

/// The content array: text/plain first (RFC 1341 ordering, which SendGrid
/// enforces), then text/html; a verbatim e-mail sends only the parts it has.
fn content(email: &Email) -> Value {
    let text = json!({"type": "text/plain", "value": non_empty(&email.text)});
    let html = json!({"type": "text/html", "value": non_empty(&email.html)});
    if email.verbatim && email.html.is_empty() {
        json!([text])
    } else if email.verbatim && email.text.is_empty() {
        json!([html])
    } else {
        json!([text, html])
    }
}

/// SendGrid rejects empty content values.
fn non_empty(text: &str) -> &str {
    if text.is_empty() { " " } else { text }
}

#[async_trait]
impl MailTransport for SendGridMail {
    fn name(&self) -> &str {
        "sendgrid"
    }

    async fn deliver(&self, email: &Email) -> Result<Delivery, SendError> {
        let response = self
            .client
            .post(&self.url)
            .bearer_auth(self.api_key.expose())
            .json(&body(email))
            .send()
            .await
            .map_err(|e| provider_http::network_error("SendGrid", e, ""))?;
        let status = response.status();
        let headers = response.headers().clone();
        if status.is_success() {
            let id = headers
                .get("x-message-id")
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned);
            return Ok(Delivery::id(id));
        }
        let text = response.text().await.unwrap_or_default();
        // A body echoing the request's credentials must not reach last_error.
        let text = crate::scrub::credentials(&text, &[self.api_key.expose()]);
        Err(classify(status, &headers, &text))
    }
}

/// Classifies a non-2xx answer.
pub fn classify(status: StatusCode, headers: &HeaderMap, body: &str) -> SendError {
    let detail = errors(body);
    let message = format!("SendGrid {}: {detail}", status.as_u16());
    let error = if status == StatusCode::TOO_MANY_REQUESTS {
        SendError::rate_limited(provider_http::retry_after(headers), message)
    } else if status.is_server_error() {
        SendError::transient(message)
    } else {
        SendError::permanent(message)
    };
    error.with_code(status.as_u16().to_string())
}

/// `errors[].message` joined, or the raw body when it is not SendGrid's shape.
fn errors(body: &str) -> String {
    let parsed: Option<Vec<String>> = serde_json::from_str::<Value>(body).ok().and_then(|v| {
        v.get("errors")?.as_array().map(|items| {
            items
                .iter()
                .filter_map(|e| {
                    let message = e.get("message")?.as_str()?;
                    Some(match e.get("field").and_then(|f| f.as_str()) {
                        Some(field) => format!("{message} (field {field})"),
                        None => message.to_owned(),
                    })
                })
                .collect()
        })
    });
    match parsed {
        Some(messages) if !messages.is_empty() => messages.join("; "),
        _ => {
            let trimmed: String = body.trim().chars().take(300).collect();
            if trimmed.is_empty() {
                "(no body)".into()
            } else {
                trimmed
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_and_rate_limits_are_classified() {
        let headers = HeaderMap::new();
        let e = classify(
            StatusCode::BAD_REQUEST,
            &headers,
            r#"{"errors":[{"message":"The from address does not match a verified Sender Identity.","field":"from"}]}"#,
        );
        assert_eq!(e.class, crate::channel::ErrorClass::Permanent);
        assert_eq!(
            e.message,
            "SendGrid 400: The from address does not match a verified Sender Identity. (field from)"
        );
        assert_eq!(e.code.as_deref(), Some("400"));
        assert_eq!(
            classify(StatusCode::BAD_GATEWAY, &headers, "").class,
            crate::channel::ErrorClass::Transient
        );

        let mut headers = HeaderMap::new();
        headers.insert("retry-after", "17".parse().unwrap());
        let e = classify(StatusCode::TOO_MANY_REQUESTS, &headers, "");
        assert_eq!(
            e.class,
            crate::channel::ErrorClass::RateLimited {
                retry_after: Some(Duration::from_secs(17))
            }
        );
        let mut headers = HeaderMap::new();
        let reset = chrono::Utc::now().timestamp() + 60;
        headers.insert("x-ratelimit-reset", reset.to_string().parse().unwrap());
        let after = provider_http::retry_after(&headers).unwrap();
        assert!((58..=60).contains(&after.as_secs()), "{after:?}");
    }
}
