//! Signed webhooks to applications: a `webhook` message is one event for
//! one endpoint of `outpost.webhook_endpoints` (its `to_address` is the
//! endpoint's id, its `body` the JSON payload), POSTed with the Standard
//! Webhooks headers (`webhook-id`, `webhook-timestamp`,
//! `webhook-signature`). A 2xx is sent; 408, 429 and 5xx are retried; any
//! other answer fails the delivery, and 410 Gone disables the endpoint too.
//! Each endpoint has its own circuit (`webhook:<id>`) and request rate.

pub mod address;
pub mod signing;

use std::borrow::Cow;
use std::num::NonZeroU32;
use std::time::Duration;

use async_trait::async_trait;
use deadpool_postgres::Pool;
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use reqwest::StatusCode;

use super::{Channel, Delivery, Envelope, SendError, provider_http};
use crate::config::WebhookEndpointsSettings;
use crate::db::Pg;
use crate::db::statements;
use crate::message::ClaimedMessage;
use address::PublicOnly;
use signing::SigningKey;

/// The event types an endpoint may subscribe to (the schema's
/// `webhook_endpoints_event_types_check` lists the same, in this order).
pub const EVENT_TYPES: [&str; 8] = [
    "message.sent",
    "message.delivered",
    "message.bounced",
    "message.failed",
    "message.suppressed",
    "message.escalated",
    "inbound.received",
    "chat.message",
];

/// The webhook channel.
pub struct WebhookChannel {
    client: reqwest::Client,
    pool: Pool,
    allow_private: bool,
    limiter: Option<DefaultKeyedRateLimiter<i64>>,
    /// The database's name when the daemon serves several: endpoint ids
    /// are each database's own, so their breakers are named with it.
    database: Option<String>,
}

/// An endpoint as a delivery reads it.
struct Endpoint {
    url: String,
    key: SigningKey,
}

impl WebhookChannel {
    pub fn new(
        settings: WebhookEndpointsSettings,
        pool: Pool,
        timeout: Duration,
    ) -> Result<Self, SendError> {
        crate::tls::install_crypto_provider();
        let client = reqwest::Client::builder()
            .timeout(timeout)
            .user_agent(concat!("outpost/", env!("CARGO_PKG_VERSION")))
            // A redirect could lead anywhere, a private address included.
            .redirect(reqwest::redirect::Policy::none())
            .dns_resolver(PublicOnly {
                allow_private: settings.allow_private,
            })
            .build()
            .map_err(|e| SendError::permanent(format!("cannot build the HTTP client: {e}")))?;
        Ok(Self {
            client,
            pool,
            allow_private: settings.allow_private,
            limiter: NonZeroU32::new(settings.rate_limit)
                .map(|rate| RateLimiter::hashmap(Quota::per_second(rate))),
            database: None,
        })
    }

    /// Names its endpoints' breakers with `database` (one of several the
    /// daemon serves).
    pub fn in_database(mut self, database: Option<&str>) -> Self {
        self.database = database.map(str::to_owned);
        self
    }

    /// The endpoint `id`, if it exists and is enabled.
    async fn endpoint(&self, id: i64) -> Result<Endpoint, SendError> {
        let unavailable =
            |e: String| SendError::transient(format!("cannot read outpost.webhook_endpoints: {e}"));
        let client = self
            .pool
            .get()
            .await
            .map_err(|e| unavailable(e.to_string()))?;
        let row = client
            .pg_query_opt(statements::WEBHOOK_ENDPOINT, &[&id])
            .await
            .map_err(|e| unavailable(e.to_string()))?
            .ok_or_else(|| {
                SendError::permanent(format!("webhook endpoint {id} no longer exists"))
            })?;
        let decode = |e: tokio_postgres::Error| unavailable(e.to_string());
        if !row.try_get::<_, bool>("enabled").map_err(decode)? {
            return Err(SendError::permanent(format!(
                "webhook endpoint {id} is disabled"
            )));
        }
        let secret: String = row.try_get("secret").map_err(decode)?;
        let key = SigningKey::from_secret(&secret)
            .map_err(|e| SendError::permanent(format!("webhook endpoint {id}: {e}")))?;
        Ok(Endpoint {
            url: row.try_get("url").map_err(decode)?,
            key,
        })
    }

    /// The receiver answered 410 Gone: its endpoint is disabled, so that no
    /// further event is written for it.
    async fn gone(&self, id: i64) {
        let reason = "the receiver answered 410 Gone";
        let result = match self.pool.get().await {
            Ok(client) => client
                .pg_execute(statements::WEBHOOK_GONE, &[&id, &reason])
                .await
                .map(|_| ())
                .map_err(|e| e.to_string()),
            Err(e) => Err(e.to_string()),
        };
        match result {
            Ok(()) => tracing::warn!(endpoint = id, "webhook endpoint disabled: 410 Gone"),
            Err(e) => tracing::warn!(endpoint = id, "cannot disable webhook endpoint: {e}"),
        }
    }
}

/// The endpoint id a delivery goes to.
fn endpoint_id(envelope: &Envelope) -> Result<i64, SendError> {
    envelope.to.trim().parse().map_err(|_| {
        SendError::permanent(
            "a webhook's to_address must be the id of a row of outpost.webhook_endpoints",
        )
    })
}

/// Refuses an IP literal that is not public (host names are checked by
/// the resolver, which never sees literals).
fn check_literal(url: &reqwest::Url, allow_private: bool) -> Result<(), SendError> {
    let host = url
        .host_str()
        .ok_or_else(|| SendError::permanent("the endpoint's URL has no host"))?;
    let literal = host.trim_start_matches('[').trim_end_matches(']');
    let Ok(ip) = literal.parse::<std::net::IpAddr>() else {
        return Ok(());
    };
    if allow_private || address::is_public(ip) {
        Ok(())
    } else {
        Err(SendError::permanent(address::NotPublic.to_string()))
    }
}

/// A 2xx is sent; 408, 429 and 5xx may pass; anything else will not.
pub fn classify(status: StatusCode, retry_after: Option<Duration>) -> SendError {
    let message = format!(
        "the receiver answered {} {}",
        status.as_u16(),
        status.canonical_reason().unwrap_or("")
    )
    .trim_end()
    .to_owned();
    let error = if status == StatusCode::TOO_MANY_REQUESTS {
        SendError::rate_limited(retry_after, message)
    } else if status.is_server_error() || status == StatusCode::REQUEST_TIMEOUT {
        SendError::transient(message)
    } else if status.is_redirection() {
        SendError::permanent(format!("{message} (redirects are not followed)"))
    } else {
        SendError::permanent(message)
    };
    error.with_code(status.as_u16().to_string())
}

#[async_trait]
impl Channel for WebhookChannel {
    fn name(&self) -> &str {
        "webhook"
    }

    fn circuit<'a>(&'a self, message: &'a ClaimedMessage) -> Cow<'a, str> {
        match message.to_address.as_deref() {
            Some(id) => Cow::Owned(match &self.database {
                Some(database) => format!("webhook:{database}:{}", id.trim()),
                None => format!("webhook:{}", id.trim()),
            }),
            None => Cow::Borrowed(self.name()),
        }
    }

    async fn send(&self, envelope: &Envelope) -> Result<Delivery, SendError> {
        let id = endpoint_id(envelope)?;
        let message = &envelope.message;
        let body = message
            .body
            .as_deref()
            .ok_or_else(|| SendError::permanent("a webhook delivery has no body"))?;
        let webhook_id = message
            .options
            .get("webhook_id")
            .and_then(|v| v.as_str())
            .map_or_else(|| format!("msg_{}", message.id), str::to_owned);
        let endpoint = self.endpoint(id).await?;
        let url = reqwest::Url::parse(&endpoint.url).map_err(|e| {
            SendError::permanent(format!("webhook endpoint {id}'s URL does not parse: {e}"))
        })?;
        check_literal(&url, self.allow_private)?;
        if let Some(limiter) = &self.limiter {
            limiter.until_key_ready(&id).await;
        }
        let timestamp = chrono::Utc::now().timestamp();
        let response = self
            .client
            .post(url)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .header("webhook-id", &webhook_id)
            .header("webhook-timestamp", timestamp.to_string())
            .header(
                "webhook-signature",
                endpoint.key.sign(&webhook_id, timestamp, body),
            )
            .body(body.to_owned())
            .send()
            .await
            .map_err(|e| {
                if address::caused_by_not_public(&e) {
                    SendError::permanent(address::NotPublic.to_string())
                } else {
                    provider_http::network_error(
                        "the webhook receiver",
                        e,
                        " (it may have received the event)",
                    )
                }
            })?;
        let status = response.status();
        if status.is_success() {
            return Ok(Delivery {
                note: Some(format!(
                    "answered {}; webhook-id {webhook_id}",
                    status.as_u16()
                )),
                ..Delivery::default()
            });
        }
        let retry_after = provider_http::retry_after(response.headers());
        if status == StatusCode::GONE {
            self.gone(id).await;
        }
        Err(classify(status, retry_after))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_are_classified_as_the_chapter_says() {
        use crate::channel::ErrorClass;
        let class = |code: u16| classify(StatusCode::from_u16(code).unwrap(), None).class;
        for code in [500, 502, 503, 504, 408] {
            assert_eq!(class(code), ErrorClass::Transient, "{code}");
        }
        assert_eq!(class(429), ErrorClass::RateLimited { retry_after: None });
        for code in [400, 401, 403, 404, 410, 413, 301, 302] {
            assert_eq!(class(code), ErrorClass::Permanent, "{code}");
        }
        let e = classify(StatusCode::NOT_FOUND, None);
        assert_eq!(e.code.as_deref(), Some("404"));
        assert_eq!(e.message, "the receiver answered 404 Not Found");
    }

    #[test]
    fn an_ip_literal_must_be_public_unless_allowed() {
        let local = reqwest::Url::parse("http://127.0.0.1:9/hook").unwrap();
        assert!(check_literal(&local, false).is_err());
        assert!(check_literal(&local, true).is_ok());
        let v6 = reqwest::Url::parse("http://[fe80::1]/hook").unwrap();
        assert!(check_literal(&v6, false).is_err());
        let public = reqwest::Url::parse("https://93.184.215.14/hook").unwrap();
        assert!(check_literal(&public, false).is_ok());
        let name = reqwest::Url::parse("https://hooks.example.com/x").unwrap();
        assert!(check_literal(&name, false).is_ok());
    }
}
