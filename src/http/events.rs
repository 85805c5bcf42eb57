//! `POST /webhooks/sendgrid/events`: the Signed Event Webhook. The ECDSA
//! signature over timestamp ‖ raw body and the timestamp's age are checked;
//! every event is stored once (by `sg_event_id`, else by a digest of the
//! event; NUL replaced and noted) and delivered, bounce and dropped events
//! move the message and feed the suppression list.

use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::Value;

use sha2::{Digest, Sha256};

use super::{AppState, body, reject};
use crate::db::Pg;
use crate::db::{DbError, statements};
use crate::storable;

const ENDPOINT: &str = "sendgrid_events";
const SIGNATURE: &str = "x-twilio-email-event-webhook-signature";
const TIMESTAMP: &str = "x-twilio-email-event-webhook-timestamp";

pub async fn sendgrid(State(state): State<AppState>, headers: HeaderMap, body: Body) -> Response {
    let body = match body::read(&state.bodies, &headers, body, state.webhook_body_limit).await {
        Ok(held) => held,
        Err(e) => {
            state.metrics.request(ENDPOINT, e.result());
            return e.into_response();
        }
    };
    let body = &body.bytes;
    if let Err(reason) = verify(&state, &headers, body) {
        state.metrics.request(ENDPOINT, "forbidden");
        return reject(StatusCode::FORBIDDEN, reason.to_string());
    }
    let events: Vec<Value> = match serde_json::from_slice(body) {
        Ok(Value::Array(events)) => events,
        Ok(_) => {
            state.metrics.request(ENDPOINT, "invalid");
            return reject(StatusCode::BAD_REQUEST, "expected a JSON array of events");
        }
        Err(e) => {
            state.metrics.request(ENDPOINT, "invalid");
            return reject(StatusCode::BAD_REQUEST, format!("invalid JSON: {e}"));
        }
    };
    match apply(&state, &events).await {
        Ok(new) => {
            state.metrics.request(ENDPOINT, "stored");
            (
                StatusCode::OK,
                format!("{new} new of {} events\n", events.len()),
            )
                .into_response()
        }
        Err(e) => {
            state.metrics.request(ENDPOINT, "error");
            tracing::error!(error = %e, "storing SendGrid events failed");
            reject(
                StatusCode::SERVICE_UNAVAILABLE,
                "cannot store events now; retry later",
            )
        }
    }
}

/// Why a batch of events is refused before anything is stored.
#[derive(Debug, thiserror::Error)]
enum Refusal {
    #[error("the signed event webhook is not configured (webhooks.sendgrid_public_key)")]
    NotConfigured,
    #[error("missing signature or timestamp header")]
    MissingHeader,
    #[error("invalid timestamp")]
    BadTimestamp,
    #[error("timestamp outside the accepted window")]
    Stale,
    #[error("invalid signature")]
    BadSignature,
}

fn verify(state: &AppState, headers: &HeaderMap, body: &[u8]) -> Result<(), Refusal> {
    let key = state
        .webhooks
        .sendgrid_key
        .as_ref()
        .ok_or(Refusal::NotConfigured)?;
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let (Some(signature), Some(timestamp)) = (header(SIGNATURE), header(TIMESTAMP)) else {
        return Err(Refusal::MissingHeader);
    };
    let at: i64 = timestamp
        .trim()
        .parse()
        .map_err(|_| Refusal::BadTimestamp)?;
    let age = (chrono::Utc::now().timestamp() - at).unsigned_abs();
    if age > state.webhooks.sendgrid_max_age.as_secs() {
        return Err(Refusal::Stale);
    }
    if !key.verify(timestamp, body, signature) {
        return Err(Refusal::BadSignature);
    }
    Ok(())
}

/// The fields of a SendGrid event that Outpost acts on; the whole event is
/// stored as received. Fields of an unexpected type read as absent.
#[derive(Debug, Default, serde::Deserialize)]
#[serde(default)]
struct SendGridEvent {
    #[serde(deserialize_with = "lenient")]
    event: Option<String>,
    #[serde(deserialize_with = "lenient")]
    sg_message_id: Option<String>,
    #[serde(deserialize_with = "lenient")]
    email: Option<String>,
    #[serde(deserialize_with = "lenient")]
    reason: Option<String>,
    #[serde(deserialize_with = "lenient")]
    status: Option<String>,
    #[serde(rename = "type", deserialize_with = "lenient")]
    kind: Option<String>,
    /// Outpost's custom argument, a string or a number.
    outpost_id: Option<Value>,
    timestamp: Option<Value>,
}

/// A string field, or `None` when it is anything else.
fn lenient<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    Ok(match Value::deserialize(d)? {
        Value::String(s) => Some(s),
        _ => None,
    })
}

impl SendGridEvent {
    fn of(event: &Value) -> Self {
        serde_json::from_value(event.clone()).unwrap_or_default()
    }

    fn name(&self) -> &str {
        self.event.as_deref().unwrap_or("unknown")
    }

    /// `sg_message_id` is `<X-Message-Id>.<filter suffix>`.
    fn provider_id(&self) -> Option<String> {
        self.sg_message_id
            .as_deref()
            .map(|s| s.split('.').next().unwrap_or(s).to_owned())
    }

    fn outpost_id(&self) -> Option<i64> {
        match &self.outpost_id {
            Some(Value::String(s)) => s.parse().ok(),
            Some(Value::Number(n)) => n.as_i64(),
            _ => None,
        }
    }

    fn occurred(&self) -> Option<chrono::DateTime<chrono::Utc>> {
        self.timestamp
            .as_ref()
            .and_then(Value::as_i64)
            .and_then(|t| chrono::DateTime::from_timestamp(t, 0))
    }

    /// Why a bounce or drop happened, as SendGrid says it.
    fn reason(&self) -> String {
        [&self.reason, &self.status, &self.kind]
            .into_iter()
            .flatten()
            .map(String::as_str)
            .collect::<Vec<_>>()
            .join("; ")
    }
}

/// The event's dedupe key: its `sg_event_id`, else a digest of the event
/// itself (keys sorted), so a replayed batch stores it once.
fn event_key(event: &Value) -> String {
    match event.get("sg_event_id").and_then(Value::as_str) {
        Some(id) => id.replace('\0', "\u{FFFD}"),
        None => {
            let canonical = serde_json::to_vec(event).unwrap_or_default();
            format!("sha256:{}", hex::encode(Sha256::digest(&canonical)))
        }
    }
}

/// Stores the events and applies the new ones, in one transaction per
/// database (with several, each event goes to the database that sent its
/// message: [`AppState::route`]).
async fn apply(state: &AppState, events: &[Value]) -> Result<usize, DbError> {
    if state.databases.is_empty() {
        return apply_in(&state.pool, true, events).await;
    }
    let mut groups: Vec<(&deadpool_postgres::Pool, Vec<Value>)> = Vec::new();
    for event in events {
        let provider_id = SendGridEvent::of(event).provider_id();
        let (pool, _) = state.route(provider_id.as_deref()).await?;
        match groups.iter_mut().find(|(p, _)| std::ptr::eq(*p, pool)) {
            Some((_, group)) => group.push(event.clone()),
            None => groups.push((pool, vec![event.clone()])),
        }
    }
    let mut new = 0;
    for (pool, group) in groups {
        new += apply_in(pool, false, &group).await?;
    }
    Ok(new)
}

/// Stores `events` in the database behind `pool`; `echoed`: whether the
/// message id Outpost put in them may be matched there.
async fn apply_in(
    pool: &deadpool_postgres::Pool,
    echoed: bool,
    events: &[Value],
) -> Result<usize, DbError> {
    let mut client = pool.get().await?;
    let tx = client.transaction().await?;
    let mut new = 0;
    for original in events {
        let event_id = event_key(original);
        let mut storable = original.clone();
        let note = storable::json(&mut storable)
            .then(|| "NUL characters replaced with U+FFFD in the payload".to_owned());
        let event = &storable;
        let fields = SendGridEvent::of(event);
        let name = fields.name();
        let provider_id = fields.provider_id();
        let outpost_id = fields.outpost_id().filter(|_| echoed);
        let occurred = fields.occurred();
        let message_id: Option<i64> = tx
            .pg_query_opt(statements::EVENT_MATCH, &[&outpost_id, &provider_id])
            .await?
            .map(|r| r.get(0));
        let inserted = tx
            .pg_query_opt(
                statements::EVENT_INSERT,
                &[
                    &message_id,
                    &"sendgrid",
                    &event_id,
                    &provider_id,
                    &name,
                    event,
                    &occurred,
                    &note,
                ],
            )
            .await?;
        if inserted.is_none() {
            continue;
        }
        new += 1;
        match name {
            "delivered" => {
                if let Some(id) = message_id {
                    tx.pg_execute(statements::EVENT_DELIVERED, &[&id]).await?;
                }
            }
            "bounce" | "dropped" => {
                let reason = fields.reason();
                if let Some(id) = message_id {
                    let error = format!("SendGrid {name}: {reason}");
                    tx.pg_execute(statements::EVENT_BOUNCED, &[&id, &error])
                        .await?;
                }
                if let Some(address) = fields.email.as_deref() {
                    let source = format!("sendgrid:{name}");
                    tx.pg_execute(
                        statements::SUPPRESS,
                        &[&"email", &address, &reason, &source],
                    )
                    .await?;
                }
            }
            _ => {}
        }
    }
    tx.commit().await?;
    Ok(new)
}
