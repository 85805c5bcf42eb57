//! SendGrid v3 Mail Send: `POST {base}/v3/mail/send` with a Bearer key.
//! 202 + `X-Message-Id` is success; 429 and 5xx are transient (Retry-After or
//! X-RateLimit-Reset honoured); other 4xx are permanent with SendGrid's
//! `errors[].message` in the error.

use std::collections::BTreeMap;
use std::time::Duration;

use async_trait::async_trait;
use base64::Engine as _;
use lettre::message::Mailbox;
use reqwest::StatusCode;
use reqwest::header::{AUTHORIZATION, HeaderMap, HeaderValue};
use serde::Serialize;
use serde_json::Value;

use super::{Email, MailTransport};
use crate::channel::{Delivery, SendError, provider_http};
use crate::config::Secret;

pub struct SendGridMail {
    client: reqwest::Client,
    /// Parsed once: a request per message need not parse it again.
    url: reqwest::Url,
    /// `Bearer {key}`, marked sensitive (kept out of debug output).
    authorization: HeaderValue,
    api_key: Secret,
}

impl SendGridMail {
    /// `base_url` without the path, e.g. `https://api.sendgrid.com`.
    pub fn new(base_url: &str, api_key: Secret, timeout: Duration) -> Result<Self, SendError> {
        let client = provider_http::client(timeout)?;
        let url = format!("{}/v3/mail/send", base_url.trim_end_matches('/'));
        let url = reqwest::Url::parse(&url).map_err(|e| {
            SendError::permanent(format!("the SendGrid base URL is not a URL: {e}"))
        })?;
        let mut authorization = HeaderValue::from_str(&format!("Bearer {}", api_key.expose()))
            .map_err(|_| {
                SendError::permanent("the SendGrid API key holds characters a header cannot carry")
            })?;
        authorization.set_sensitive(true);
        Ok(Self {
            client,
            url,
            authorization,
            api_key,
        })
    }
}

/// A name and address as SendGrid takes them.
#[derive(Serialize)]
struct Address<'a> {
    email: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    name: Option<&'a str>,
}

fn address(m: &Mailbox) -> Address<'_> {
    Address {
        email: m.email.as_ref(),
        name: m.name.as_deref().filter(|n| !n.is_empty()),
    }
}

fn addresses(list: &[Mailbox]) -> Vec<Address<'_>> {
    list.iter().map(address).collect()
}

#[derive(Serialize)]
struct Personalization<'a> {
    to: Vec<Address<'a>>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    cc: Vec<Address<'a>>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    bcc: Vec<Address<'a>>,
    // Per personalization: the spec types message-level custom_args as a string.
    custom_args: &'a BTreeMap<String, String>,
}

#[derive(Serialize)]
struct Content<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    value: &'a str,
}

#[derive(Serialize)]
struct AttachmentBody<'a> {
    content: String,
    filename: &'a str,
    #[serde(rename = "type")]
    content_type: &'a str,
    disposition: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    content_id: Option<&'a str>,
}

/// The Mail Send request body, borrowed from the e-mail and serialized
/// straight into the request (no intermediate JSON tree).
#[derive(Serialize)]
pub struct Body<'a> {
    personalizations: [Personalization<'a>; 1],
    from: Address<'a>,
    subject: &'a str,
    content: Vec<Content<'a>>,
    headers: BTreeMap<&'a str, &'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    reply_to: Option<Address<'a>>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    reply_to_list: Vec<Address<'a>>,
    #[serde(skip_serializing_if = "<[String]>::is_empty")]
    categories: &'a [String],
    #[serde(skip_serializing_if = "Vec::is_empty")]
    attachments: Vec<AttachmentBody<'a>>,
}

/// The Mail Send request body for `email`.
pub fn body(email: &Email) -> Body<'_> {
    let mut headers = BTreeMap::new();
    headers.insert("Message-ID", email.message_id.as_str());
    for (k, v) in &email.headers {
        headers.insert(k.as_str(), v.as_str());
    }
    let (reply_to, reply_to_list) = match email.reply_to.as_slice() {
        [] => (None, Vec::new()),
        [one] => (Some(address(one)), Vec::new()),
        many => (None, addresses(many)),
    };
    Body {
        personalizations: [Personalization {
            to: addresses(&email.to),
            cc: addresses(&email.cc),
            bcc: addresses(&email.bcc),
            custom_args: &email.custom_args,
        }],
        from: address(&email.from),
        subject: &email.subject,
        content: content(email),
        headers,
        reply_to,
        reply_to_list,
        categories: &email.categories,
        attachments: email
            .attachments
            .iter()
            .map(|a| AttachmentBody {
                content: base64::engine::general_purpose::STANDARD.encode(&a.content),
                // SendGrid requires a name; a nameless part is known by its Content-ID.
                filename: a
                    .filename
                    .as_deref()
                    .or(a.content_id.as_deref())
                    .unwrap_or("attachment"),
                content_type: &a.content_type,
                disposition: if a.inline { "inline" } else { "attachment" },
                content_id: a.content_id.as_deref(),
            })
            .collect(),
    }
}

/// The content array: text/plain first (RFC 1341 ordering, which SendGrid
/// enforces), then text/html; a verbatim e-mail sends only the parts it has.
fn content(email: &Email) -> Vec<Content<'_>> {
    let text = Content {
        kind: "text/plain",
        value: non_empty(&email.text),
    };
    let html = Content {
        kind: "text/html",
        value: non_empty(&email.html),
    };
    if email.verbatim && email.html.is_empty() {
        vec![text]
    } else if email.verbatim && email.text.is_empty() {
        vec![html]
    } else {
        vec![text, html]
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
            .post(self.url.clone())
            .header(AUTHORIZATION, self.authorization.clone())
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
    fn a_bad_base_url_or_api_key_is_refused_at_start_without_the_key() {
        let timeout = Duration::from_secs(5);
        let err = SendGridMail::new("not a url", Secret::new("SG.key"), timeout)
            .err()
            .expect("a base URL that is not a URL is refused");
        assert!(
            err.message.contains("base URL is not a URL"),
            "{}",
            err.message
        );
        let key = "SG.line\nbreak";
        let err = SendGridMail::new("https://api.sendgrid.com", Secret::new(key), timeout)
            .err()
            .expect("a key a header cannot carry is refused");
        assert!(
            err.message.contains("API key holds characters"),
            "{}",
            err.message
        );
        assert!(
            !err.message.contains("SG.line"),
            "the key leaked: {}",
            err.message
        );
        assert!(
            SendGridMail::new("https://api.sendgrid.com/", Secret::new("SG.ok"), timeout).is_ok()
        );
    }

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
