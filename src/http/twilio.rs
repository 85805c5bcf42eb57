//! `POST /webhooks/twilio/status`: Twilio's status callbacks for messages and
//! calls, checked against `X-Twilio-Signature`; delivered moves the message to
//! `delivered`, undelivered and failed ones to `bounced` with the error code.

use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};

use super::{AppState, body, reject};
use crate::db::Pg;
use crate::db::{DbError, statements};
use crate::signature::verify_twilio;
use crate::storable;

const ENDPOINT: &str = "twilio_status";

pub async fn status(
    State(state): State<AppState>,
    uri: Uri,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let body = match body::read(&state.bodies, &headers, body, state.webhook_body_limit).await {
        Ok(held) => held,
        Err(e) => {
            state.metrics.request(ENDPOINT, e.result());
            return e.into_response();
        }
    };
    let params: Vec<(String, String)> = match serde_urlencoded::from_bytes(&body.bytes) {
        Ok(p) => p,
        Err(e) => {
            state.metrics.request(ENDPOINT, "invalid");
            return reject(StatusCode::BAD_REQUEST, format!("invalid form body: {e}"));
        }
    };
    let token = &state.webhooks.twilio_auth_token;
    let Some(public_url) = state
        .webhooks
        .twilio_public_url
        .as_deref()
        .filter(|_| !token.is_empty())
    else {
        state.metrics.request(ENDPOINT, "forbidden");
        return reject(
            StatusCode::FORBIDDEN,
            "Twilio callbacks are not configured (twilio.auth_token, twilio.public_url)",
        );
    };
    let path = uri.path_and_query().map_or("/", |p| p.as_str());
    let url = format!("{public_url}{path}");
    let signature = headers
        .get("x-twilio-signature")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if !verify_twilio(token.expose(), &url, &params, signature) {
        state.metrics.request(ENDPOINT, "forbidden");
        return reject(StatusCode::FORBIDDEN, "invalid X-Twilio-Signature");
    }
    // Verified over the values as sent; stored with NUL replaced.
    let mut params = params;
    let nul = params.iter_mut().fold(false, |found, (k, v)| {
        storable::text(k) | storable::text(v) | found
    });
    let note = nul.then(|| "NUL characters replaced with U+FFFD in the parameters".to_owned());
    let get = |name: &str| {
        params
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    };
    let sid = get("MessageSid")
        .or_else(|| get("CallSid"))
        .or_else(|| get("SmsSid"));
    let status = get("MessageStatus")
        .or_else(|| get("CallStatus"))
        .or_else(|| get("SmsStatus"));
    let (Some(sid), Some(status)) = (sid, status) else {
        state.metrics.request(ENDPOINT, "invalid");
        return reject(
            StatusCode::BAD_REQUEST,
            "missing MessageSid/CallSid or MessageStatus/CallStatus",
        );
    };
    let outpost_id: Option<i64> = uri.query().and_then(|q| {
        serde_urlencoded::from_str::<Vec<(String, String)>>(q)
            .ok()?
            .into_iter()
            .find(|(k, _)| k == "outpost_id")
            .and_then(|(_, v)| v.parse().ok())
    });
    let payload: serde_json::Map<String, serde_json::Value> = params
        .iter()
        .map(|(k, v)| (k.clone(), v.clone().into()))
        .collect();
    let error_code = get("ErrorCode").filter(|c| !c.is_empty());
    let event = Callback {
        outpost_id,
        sid,
        status,
        error_code,
        payload: payload.into(),
        note,
    };
    match apply(&state, event).await {
        Ok(()) => {
            state.metrics.request(ENDPOINT, "stored");
            (StatusCode::OK, "").into_response()
        }
        Err(e) => {
            state.metrics.request(ENDPOINT, "error");
            tracing::error!(error = %e, "storing a Twilio status callback failed");
            reject(
                StatusCode::SERVICE_UNAVAILABLE,
                "cannot store the callback now",
            )
        }
    }
}

/// One verified callback, ready to store.
struct Callback<'a> {
    outpost_id: Option<i64>,
    sid: &'a str,
    status: &'a str,
    error_code: Option<&'a str>,
    payload: serde_json::Value,
    /// What had to change to store it, if anything.
    note: Option<String>,
}

async fn apply(state: &AppState, event: Callback<'_>) -> Result<(), DbError> {
    let Callback {
        outpost_id,
        sid,
        status,
        error_code,
        payload,
        note,
    } = event;
    let (pool, echoed) = state.route(Some(sid)).await?;
    let outpost_id = outpost_id.filter(|_| echoed);
    let mut client = pool.get().await?;
    let tx = client.transaction().await?;
    let message_id: Option<i64> = tx
        .pg_query_opt(statements::EVENT_MATCH, &[&outpost_id, &sid])
        .await?
        .map(|r| r.get(0));
    let event_id = format!("{sid}:{status}");
    let inserted = tx
        .pg_query_opt(
            statements::EVENT_INSERT,
            &[
                &message_id,
                &"twilio",
                &event_id,
                &sid,
                &status,
                &payload,
                &None::<chrono::DateTime<chrono::Utc>>,
                &note,
            ],
        )
        .await?;
    if let (Some(_), Some(id)) = (inserted, message_id) {
        match status {
            "delivered" | "completed" => {
                tx.pg_execute(statements::EVENT_DELIVERED, &[&id]).await?;
            }
            "undelivered" | "failed" | "busy" | "no-answer" | "canceled" => {
                let error = match error_code {
                    Some(code) => format!("Twilio {status}: error {code}"),
                    None => format!("Twilio {status}"),
                };
                tx.pg_execute(statements::EVENT_BOUNCED, &[&id, &error])
                    .await?;
            }
            _ => {}
        }
    }
    tx.commit().await?;
    Ok(())
}
