//! `POST /inbound/sendgrid`: SendGrid Inbound Parse (parsed or raw mode),
//! behind HTTP Basic credentials. Stored with its attachments in one
//! transaction, announced with `NOTIFY outpost_inbound, '<id>'`, answered 200
//! only after the commit; a retried delivery is stored once.

use axum::extract::multipart::MultipartRejection;
use axum::extract::{Multipart, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use sha2::{Digest, Sha256};

use super::{AppState, reject};
use crate::db::{DbError, statements};
use crate::inbound::{Form, FormFile, InboundEmail, parse};

const ENDPOINT: &str = "inbound";

pub async fn sendgrid(
    State(state): State<AppState>,
    headers: HeaderMap,
    multipart: Result<Multipart, MultipartRejection>,
) -> Response {
    if !authorized(&state, &headers) {
        state.metrics.request(ENDPOINT, "unauthorized");
        return (
            StatusCode::UNAUTHORIZED,
            [(header::WWW_AUTHENTICATE, "Basic realm=\"outpost inbound\"")],
            "unauthorized\n",
        )
            .into_response();
    }
    let form = match multipart {
        Ok(multipart) => read_form(multipart).await,
        Err(rejection) => Err((rejection.status(), rejection.body_text())),
    };
    let form = match form {
        Ok(form) => form,
        Err((status, reason)) => {
            state.metrics.request(
                ENDPOINT,
                if status == StatusCode::PAYLOAD_TOO_LARGE {
                    "too_large"
                } else {
                    "invalid"
                },
            );
            return reject(status, reason);
        }
    };
    let email = match parse(&form) {
        Ok(email) => email,
        Err(e) => {
            state.metrics.request(ENDPOINT, "invalid");
            return reject(StatusCode::BAD_REQUEST, e.to_string());
        }
    };
    match store(&state, &email).await {
        Ok(Some(id)) => {
            state.metrics.request(ENDPOINT, "stored");
            tracing::info!(
                inbound_id = id,
                from = email.from.as_deref().unwrap_or(""),
                "inbound e-mail stored"
            );
            (StatusCode::OK, format!("stored {id}\n")).into_response()
        }
        Ok(None) => {
            state.metrics.request(ENDPOINT, "duplicate");
            (StatusCode::OK, "duplicate, already stored\n").into_response()
        }
        Err(e) => {
            // 5xx makes SendGrid retry later; nothing was committed.
            state.metrics.request(ENDPOINT, "error");
            tracing::error!(error = %e, "storing inbound e-mail failed");
            reject(
                StatusCode::SERVICE_UNAVAILABLE,
                "cannot store the message now; retry later",
            )
        }
    }
}

/// HTTP Basic credentials, compared by digest so timing reveals nothing.
fn authorized(state: &AppState, headers: &HeaderMap) -> bool {
    let Some((user, password)) = &state.webhooks.inbound else {
        return false;
    };
    let Some(given) = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Basic "))
        .and_then(|b| {
            base64::engine::general_purpose::STANDARD
                .decode(b.trim())
                .ok()
        })
    else {
        return false;
    };
    let expected = format!("{user}:{}", password.expose());
    Sha256::digest(&given) == Sha256::digest(expected.as_bytes())
}

async fn read_form(mut multipart: Multipart) -> Result<Form, (StatusCode, String)> {
    let mut form = Form::default();
    let fail = |e: axum::extract::multipart::MultipartError| {
        (
            e.status(),
            format!("malformed multipart body: {}", e.body_text()),
        )
    };
    while let Some(field) = multipart.next_field().await.map_err(fail)? {
        let name = field.name().unwrap_or_default().to_owned();
        let filename = field.file_name().map(str::to_owned);
        let content_type = field.content_type().map(str::to_owned);
        let data = field.bytes().await.map_err(fail)?.to_vec();
        if filename.is_some()
            || name.starts_with("attachment") && name != "attachment-info" && name != "attachments"
        {
            form.files.push(FormFile {
                field: name,
                filename,
                content_type,
                data,
            });
        } else {
            form.fields.push((name, data));
        }
    }
    Ok(form)
}

async fn store(state: &AppState, email: &InboundEmail) -> Result<Option<i64>, DbError> {
    let mut client = state.pool.get().await?;
    let tx = client.transaction().await?;
    let row = tx
        .query_opt(
            statements::INBOUND_INSERT,
            &[
                &email.dedupe_key,
                &email.message_id,
                &email.mode,
                &email.from,
                &email.to,
                &email.cc,
                &email.subject,
                &email.text,
                &email.html,
                &email.headers,
                &email.envelope,
                &email.sender_ip,
                &email.spf,
                &email.dkim,
                &email.spam_score,
                &email.spam_report,
                &email.charsets,
                &email.raw,
            ],
        )
        .await?;
    let Some(row) = row else {
        return Ok(None);
    };
    let id: i64 = row.get(0);
    for a in &email.attachments {
        tx.execute(
            statements::INBOUND_ATTACHMENT,
            &[
                &id,
                &a.filename,
                &a.content_type,
                &a.content_id,
                &(a.content.len() as i32),
                &a.content,
            ],
        )
        .await?;
    }
    tx.execute(
        "SELECT pg_notify('outpost_inbound', $1)",
        &[&id.to_string()],
    )
    .await?;
    tx.commit().await?;
    Ok(Some(id))
}
