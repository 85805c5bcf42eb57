//! `POST /inbound/sendgrid`: SendGrid Inbound Parse (parsed or raw mode),
//! behind HTTP Basic credentials; a source that failed them too often in a
//! minute gets 429 with `Retry-After`, credentials unchecked, until the
//! minute ends (SendGrid retries for three days). Stored with its
//! attachments in one transaction, announced with `NOTIFY outpost_inbound, '<id>'`, answered 200
//! only after the commit; a retried delivery is stored once.

use std::net::SocketAddr;

use axum::Extension;
use axum::body::{Body, Bytes};
use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use sha2::{Digest, Sha256};

use super::{AppState, body, reject, throttle};
use crate::db::Pg;
use crate::db::{DbError, statements};
use crate::inbound_mail::{Form, FormFile, InboundEmail, parse};

const ENDPOINT: &str = "inbound";

pub async fn sendgrid(
    State(state): State<AppState>,
    peer: Option<Extension<ConnectInfo<SocketAddr>>>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let source = throttle::source_key(peer.map(|p| p.0.0));
    let failures = &state.throttles.inbound_failures;
    if let Err(retry_after) = failures.check(&source) {
        state.metrics.request(ENDPOINT, "throttled");
        return throttle::too_many(retry_after, "too many failed logins from this address");
    }
    // From the headers alone, before a byte of the body is read.
    if !authorized(&state, &headers) {
        state.metrics.request(ENDPOINT, "unauthorized");
        if let Err(retry_after) = failures.hit(source) {
            return throttle::too_many(retry_after, "too many failed logins from this address");
        }
        return (
            StatusCode::UNAUTHORIZED,
            [(header::WWW_AUTHENTICATE, "Basic realm=\"outpost inbound\"")],
            "unauthorized\n",
        )
            .into_response();
    }
    let held = match body::read(&state.bodies, &headers, body, state.body_limit).await {
        Ok(held) => held,
        Err(e) => {
            state.metrics.request(ENDPOINT, e.result());
            return e.into_response();
        }
    };
    let form = match read_form(&headers, held.bytes.clone()).await {
        Ok(form) => form,
        Err(reason) => {
            state.metrics.request(ENDPOINT, "invalid");
            return reject(StatusCode::BAD_REQUEST, reason.to_string());
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
            // Ids and counts only: addresses stay out of the logs.
            tracing::info!(
                inbound_id = id,
                mode = email.mode,
                attachments = email.attachments.len(),
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

/// Why a request body is not a form Outpost can read.
#[derive(Debug, thiserror::Error)]
enum FormError {
    #[error("expected multipart/form-data{}", .0.as_ref().map(|e| format!(": {e}")).unwrap_or_default())]
    NotMultipart(Option<multer::Error>),
    #[error("malformed multipart body: {0}")]
    Malformed(#[source] multer::Error),
}

/// Reads the whole multipart form. Bodies whose delimiters use bare LF (as
/// SendGrid's own sample payloads do) are first given CRLF delimiters.
async fn read_form(headers: &HeaderMap, body: Bytes) -> Result<Form, FormError> {
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .ok_or(FormError::NotMultipart(None))?;
    let boundary =
        multer::parse_boundary(content_type).map_err(|e| FormError::NotMultipart(Some(e)))?;
    let body = crlf_delimiters(body, &boundary);
    let stream = futures_util::stream::once(async move { Ok::<_, std::convert::Infallible>(body) });
    let mut multipart = multer::Multipart::new(stream, boundary);
    let mut form = Form::default();
    let fail = FormError::Malformed;
    while let Some(field) = multipart.next_field().await.map_err(fail)? {
        let name = field.name().unwrap_or_default().to_owned();
        let filename = field.file_name().map(str::to_owned);
        let content_type = field.content_type().map(|m| m.to_string());
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

/// Rewrites an LF-delimited multipart body with CRLF delimiters and part
/// headers, leaving part contents as they are; CRLF bodies pass unchanged.
pub fn crlf_delimiters(body: Bytes, boundary: &str) -> Bytes {
    let delimiter = format!("--{boundary}");
    let first_line = body.iter().position(|&b| b == b'\n');
    let uses_lf = match first_line {
        Some(end) => end == 0 || body[end - 1] != b'\r',
        None => false,
    };
    if !uses_lf || !body.starts_with(delimiter.as_bytes()) {
        return body;
    }
    let separator = format!("\n{delimiter}");
    let mut out = Vec::with_capacity(body.len() + 1024);
    let mut rest: &[u8] = &body[delimiter.len()..];
    loop {
        // `rest` starts right after a delimiter.
        if rest.starts_with(b"--") {
            out.extend_from_slice(delimiter.as_bytes());
            out.extend_from_slice(b"--\r\n");
            return Bytes::from(out);
        }
        let Some(part) = rest.strip_prefix(b"\n") else {
            return body;
        };
        let end = find(part, separator.as_bytes()).unwrap_or(part.len());
        let (content, next) = part.split_at(end);
        let Some(blank) = find(content, b"\n\n") else {
            return body;
        };
        out.extend_from_slice(delimiter.as_bytes());
        out.extend_from_slice(b"\r\n");
        for line in content[..blank].split(|&b| b == b'\n') {
            out.extend_from_slice(line);
            out.extend_from_slice(b"\r\n");
        }
        out.extend_from_slice(b"\r\n");
        out.extend_from_slice(&content[blank + 2..]);
        out.extend_from_slice(b"\r\n");
        if next.is_empty() {
            return body;
        }
        rest = &next[separator.len()..];
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// The database an inbound e-mail belongs to: with several, the first
/// whose `outpost.inbound_routes` claims one of its recipients, else the
/// first database.
async fn home<'a>(
    state: &'a AppState,
    email: &InboundEmail,
) -> Result<&'a deadpool_postgres::Pool, DbError> {
    if state.databases.is_empty() || email.to.is_none() {
        return Ok(&state.pool);
    }
    for database in &state.databases {
        let client = database.pool.get().await?;
        let row = client
            .pg_query_one(statements::INBOUND_CLAIMED, &[&email.to])
            .await?;
        if row.try_get::<_, bool>("claimed")? {
            return Ok(&database.pool);
        }
    }
    Ok(&state.pool)
}

async fn store(state: &AppState, email: &InboundEmail) -> Result<Option<i64>, DbError> {
    let pool = home(state, email).await?;
    let mut client = pool.get().await?;
    let tx = client.transaction().await?;
    let row = tx
        .pg_query_opt(
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
                &email.raw_bytes,
                &email.note,
            ],
        )
        .await?;
    let Some(row) = row else {
        return Ok(None);
    };
    let id: i64 = row.get(0);
    for a in &email.attachments {
        tx.pg_execute(
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
    tx.pg_execute(statements::INBOUND_NOTIFY, &[&id.to_string()])
        .await?;
    tx.commit().await?;
    Ok(Some(id))
}
