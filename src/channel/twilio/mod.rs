//! Twilio SMS and voice calls: `Messages.json` and `Calls.json`, form-encoded
//! with Basic auth; the text rendered and translated like e-mail; numbers
//! checked before any request; a per-account request rate respected.

pub mod segments;
pub mod twiml;

use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use reqwest::StatusCode;

use super::stdout::StdoutSink;
use super::{Channel, Delivery, Envelope, SendError, provider_http};
use crate::config::TwilioSettings;
use crate::message::Kind;
use crate::phone;
use crate::render::Templates;

/// Twilio error codes that no retry can fix (invalid or unreachable numbers).
const PERMANENT_CODES: [i64; 7] = [21211, 21212, 21408, 21606, 21610, 21612, 21614];

pub struct TwilioChannel {
    settings: TwilioSettings,
    templates: Arc<Templates>,
    client: reqwest::Client,
    limiter: Option<DefaultDirectRateLimiter>,
    /// The console backend: every check and the segment count as for Twilio,
    /// then the request printed here instead of posted.
    console: Option<StdoutSink>,
}

/// A request ready to post.
struct Request {
    url: String,
    form: Vec<(&'static str, String)>,
    delivery: Delivery,
}

impl TwilioChannel {
    pub fn new(
        settings: TwilioSettings,
        templates: Arc<Templates>,
        timeout: Duration,
    ) -> Result<Self, SendError> {
        let client = provider_http::client(timeout)?;
        let limiter = NonZeroU32::new(settings.rate_limit)
            .map(|rate| RateLimiter::direct(Quota::per_second(rate)));
        Ok(Self {
            settings,
            templates,
            client,
            limiter,
            console: None,
        })
    }

    /// The console backend for SMS and voice: validates, normalises and
    /// counts segments exactly as the Twilio backend, then prints.
    pub fn stdout(
        settings: TwilioSettings,
        templates: Arc<Templates>,
        sink: StdoutSink,
    ) -> Result<Self, SendError> {
        let mut channel = Self::new(settings, templates, Duration::from_secs(30))?;
        channel.limiter = None;
        channel.console = Some(sink);
        Ok(channel)
    }

    fn print(
        &self,
        sink: &StdoutSink,
        envelope: &Envelope,
        request: &Request,
    ) -> Result<(), SendError> {
        let m = &envelope.message;
        let rule = "-".repeat(72);
        let mut out = format!(
            "{rule}\nOutpost-Id: {}\nKind: {}\nLocale: {}\n",
            m.id, m.kind, envelope.locale
        );
        if let Some(segments) = request.delivery.segments {
            out.push_str(&format!("Segments: {segments}\n"));
        }
        if let Some(note) = &request.delivery.note {
            out.push_str(&format!("Note: {note}\n"));
        }
        for (name, value) in &request.form {
            match *name {
                "Body" | "Twiml" => out.push_str(&format!("\n{value}\n")),
                _ => out.push_str(&format!("{name}: {value}\n")),
            }
        }
        out.push_str(&rule);
        out.push('\n');
        super::stdout::print(sink, &out)
    }

    /// The text to send: `TEMPLATE.sms.txt` / `TEMPLATE.voice.txt`, else the
    /// body, translated into the message's language.
    fn text(&self, envelope: &Envelope) -> Result<String, SendError> {
        let m = &envelope.message;
        let kind = m.kind.as_str();
        let text = envelope.text(&self.templates.get(), &format!("{kind}.txt"), kind)?;
        let text = text.trim().to_owned();
        if text.is_empty() {
            return Err(SendError::permanent(format!(
                "the {} text is empty",
                m.kind
            )));
        }
        Ok(text)
    }

    fn request(&self, envelope: &Envelope) -> Result<Request, SendError> {
        let m = &envelope.message;
        let to = phone::e164(&envelope.to, self.settings.default_region)
            .map_err(|e| SendError::permanent(format!("invalid recipient: {e}")))?;
        let explicit_from = m
            .options
            .get("from")
            .and_then(|v| v.as_str())
            .filter(|s| !s.trim().is_empty());
        let text = self.text(envelope)?;
        let base = format!(
            "{}/2010-04-01/Accounts/{}",
            self.settings.base_url, self.settings.account_sid
        );
        let mut form = vec![("To", to)];
        let mut delivery = Delivery::default();
        let url = match m.kind {
            Kind::Voice => {
                let chosen = twiml::choose(
                    &self.settings.voices,
                    &envelope.locale,
                    self.settings.voice_fallback,
                    &self.settings.voice_default_language,
                )
                .map_err(|e| SendError::permanent(e.to_string()))?;
                delivery.note = chosen.note;
                form.push(("From", self.sender(explicit_from)?));
                form.push(("Twiml", twiml::say(&text, &chosen.voice)));
                format!("{base}/Calls.json")
            }
            _ => {
                let counted = segments::count(&text);
                if counted.count > self.settings.max_segments {
                    return Err(SendError::permanent(format!(
                        "the SMS is {} segments ({} {}), more than twilio.max_segments = {}",
                        counted.count,
                        counted.units,
                        if counted.encoding == segments::Encoding::Gsm7 {
                            "GSM-7 characters"
                        } else {
                            "UCS-2 units"
                        },
                        self.settings.max_segments
                    )));
                }
                delivery.segments = Some(counted.count as i32);
                match (&self.settings.messaging_service_sid, explicit_from) {
                    (Some(service), None) => form.push(("MessagingServiceSid", service.clone())),
                    _ => form.push(("From", self.sender(explicit_from)?)),
                }
                form.push(("Body", text));
                format!("{base}/Messages.json")
            }
        };
        if let Some(public) = &self.settings.public_url {
            form.push((
                "StatusCallback",
                format!("{public}/webhooks/twilio/status?outpost_id={}", m.id),
            ));
        }
        Ok(Request {
            url,
            form,
            delivery,
        })
    }

    fn sender(&self, explicit: Option<&str>) -> Result<String, SendError> {
        let from = explicit.unwrap_or(&self.settings.from);
        phone::e164(from, self.settings.default_region)
            .map_err(|e| SendError::permanent(format!("invalid sender: {e}")))
    }
}

#[async_trait]
impl Channel for TwilioChannel {
    fn name(&self) -> &str {
        if self.console.is_some() {
            "console"
        } else {
            "twilio"
        }
    }

    async fn send(&self, envelope: &Envelope) -> Result<Delivery, SendError> {
        if let Some(sink) = &self.console {
            let request = self.request(envelope)?;
            self.print(sink, envelope, &request)?;
            let mut delivery = request.delivery;
            delivery.provider_message_id = Some(format!(
                "console-{}-{}",
                envelope.message.id, envelope.message.attempt
            ));
            return Ok(delivery);
        }
        let Request {
            url,
            form,
            mut delivery,
        } = self.request(envelope)?;
        if let Some(limiter) = &self.limiter {
            limiter.until_ready().await;
        }
        let response = self
            .client
            .post(&url)
            .basic_auth(
                &self.settings.account_sid,
                Some(self.settings.auth_token.expose()),
            )
            .form(&form)
            .send()
            .await
            .map_err(|e| provider_http::network_error("Twilio", e, ""))?;
        let status = response.status();
        let retry_after = provider_http::retry_after(response.headers());
        let body: serde_json::Value = response.json().await.unwrap_or(serde_json::Value::Null);
        if status.is_success() {
            delivery.provider_message_id =
                body.get("sid").and_then(|v| v.as_str()).map(str::to_owned);
            return Ok(delivery);
        }
        let mut error = classify(status, retry_after, &body);
        error.message =
            crate::scrub::credentials(&error.message, &[self.settings.auth_token.expose()]);
        Err(error)
    }
}

/// Turns a Twilio error answer into what to do next.
pub fn classify(
    status: StatusCode,
    retry_after: Option<Duration>,
    body: &serde_json::Value,
) -> SendError {
    let code = body.get("code").and_then(|c| c.as_i64());
    let message = body
        .get("message")
        .and_then(|m| m.as_str())
        .unwrap_or_else(|| status.canonical_reason().unwrap_or("error"));
    let text = match code {
        Some(code) => format!("Twilio error {code}: {message}"),
        None => format!("Twilio {}: {message}", status.as_u16()),
    };
    let error = if status == StatusCode::TOO_MANY_REQUESTS || code == Some(20429) {
        SendError::rate_limited(retry_after, text)
    } else if code.is_some_and(|c| PERMANENT_CODES.contains(&c)) {
        SendError::permanent(text)
    } else if status.is_server_error() {
        SendError::transient(text)
    } else {
        SendError::permanent(text)
    };
    error.with_code(code.map_or_else(|| status.as_u16().to_string(), |c| c.to_string()))
}
