//! `/inbound`: received e-mail with its verdicts (SPF, DKIM, spam score);
//! `/inbound/{id}`: one mail, its attachments to download.

use axum::extract::{Path, Query, State};
use axum::http::header;
use axum::response::{Html, IntoResponse, Response};
use serde::{Deserialize, Serialize};

use super::format::time;
use super::pages::PAGES;
use super::session::Session;
use super::{ConsoleState, Result, queries};

const PAGE: i64 = 50;

#[derive(Deserialize)]
pub struct InboundListQuery {
    before: Option<i64>,
}

#[derive(Serialize)]
struct Mail {
    id: i64,
    from: Option<String>,
    to: Option<String>,
    subject: Option<String>,
    spf: Option<String>,
    dkim: Option<String>,
    spam_score: Option<f64>,
    received_at: String,
    attachments: i64,
    note: Option<String>,
}

/// `GET /inbound`.
pub async fn list(
    State(state): State<ConsoleState>,
    session: Session,
    Query(q): Query<InboundListQuery>,
) -> Result<Html<String>> {
    let client = state.pool.get().await?;
    let mails: Vec<Mail> = client
        .query(queries::INBOUND_LIST, &[&q.before, &PAGE])
        .await?
        .into_iter()
        .map(|r| Mail {
            id: r.get("id"),
            from: r.get("from_address"),
            to: r.get("to_addresses"),
            subject: r.get("subject"),
            spf: r.get("spf"),
            dkim: r.get("dkim"),
            spam_score: r.get("spam_score"),
            received_at: time(r.get("received_at")),
            attachments: r.get("attachments"),
            note: r.get("note"),
        })
        .collect();
    let next = (mails.len() as i64 == PAGE)
        .then(|| mails.last().map(|m| m.id))
        .flatten();
    PAGES.render(
        "inbound.html",
        Some(&session),
        "inbound",
        ctx! { mails, next },
    )
}

#[derive(Serialize)]
struct Attachment {
    id: i64,
    filename: Option<String>,
    content_type: Option<String>,
    size: i32,
}

/// `GET /inbound/{id}`: the text part is shown as text; HTML is never rendered.
pub async fn page(
    State(state): State<ConsoleState>,
    session: Session,
    Path(id): Path<i64>,
) -> Result<Html<String>> {
    let client = state.pool.get().await?;
    let r = queries::found(&client, queries::INBOUND_GET, &[&id]).await?;
    let attachments: Vec<Attachment> = client
        .query(queries::INBOUND_ATTACHMENTS, &[&id])
        .await?
        .into_iter()
        .map(|a| Attachment {
            id: a.get("id"),
            filename: a.get("filename"),
            content_type: a.get("content_type"),
            size: a.get("size"),
        })
        .collect();
    let envelope: Option<serde_json::Value> = r.get("envelope");
    let fields: Vec<(&str, Option<String>)> = vec![
        ("from", r.get("from_address")),
        ("to", r.get("to_addresses")),
        ("cc", r.get("cc")),
        ("subject", r.get("subject")),
        ("received", Some(time(r.get("received_at")))),
        ("Message-ID", r.get("message_id")),
        ("mode", Some(r.get("mode"))),
        ("sender IP", r.get("sender_ip")),
        ("SPF", r.get("spf")),
        ("DKIM", r.get("dkim")),
        (
            "spam score",
            r.get::<_, Option<f64>>("spam_score").map(|s| s.to_string()),
        ),
        ("envelope", envelope.map(|e| e.to_string())),
        ("note", r.get("note")),
    ];
    let fields: Vec<(&str, String)> = fields
        .into_iter()
        .filter_map(|(k, v)| v.map(|v| (k, v)))
        .collect();
    PAGES.render(
        "inbound_email.html",
        Some(&session),
        "inbound",
        ctx! {
            id,
            fields,
            text => r.get::<_, Option<String>>("text_body"),
            html_source => r.get::<_, Option<String>>("html_body"),
            headers => r.get::<_, Option<String>>("headers"),
            spam_report => r.get::<_, Option<String>>("spam_report"),
            attachments,
        },
    )
}

/// `GET /inbound/{id}/attachments/{attachment}`: always a download, never
/// rendered in the console's origin.
pub async fn attachment(
    State(state): State<ConsoleState>,
    Path((id, attachment)): Path<(i64, i64)>,
) -> Result<Response> {
    let client = state.pool.get().await?;
    let r = queries::found(&client, queries::INBOUND_ATTACHMENT, &[&id, &attachment]).await?;
    let filename: Option<String> = r.get("filename");
    let safe: String = filename
        .unwrap_or_else(|| format!("attachment-{attachment}"))
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_') {
                c
            } else {
                '_'
            }
        })
        .collect();
    let content: Vec<u8> = r.get("content");
    Ok((
        [
            (header::CONTENT_TYPE, "application/octet-stream".to_owned()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{safe}\""),
            ),
            (
                header::CONTENT_SECURITY_POLICY,
                "default-src 'none'; sandbox".to_owned(),
            ),
        ],
        content,
    )
        .into_response())
}
