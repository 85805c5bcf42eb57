//! `/inbound`: received e-mail with its verdicts (SPF, DKIM, spam score);
//! `/inbound/{id}`: one mail, its attachments to download.

use crate::db::Pg;
use axum::extract::{Path, Query, State};
use axum::http::header;
use axum::response::{Html, IntoResponse, Response};
use serde::{Deserialize, Serialize};
use tokio_postgres::Row;

use super::ConsoleError;
use super::format::{present, time};
use super::pages;
use super::session::Session;
use super::{ConsoleState, Result, queries};

const PAGE: i64 = 50;

#[derive(Deserialize)]
pub struct InboundListQuery {
    before: Option<i64>,
}

/// A received mail in the list.
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

from_row!(Mail {
    id,
    from = "from_address",
    to = "to_addresses",
    subject,
    spf,
    dkim,
    spam_score,
    received_at => time,
    attachments,
    note,
});

/// An attachment of a received mail, without its content.
#[derive(Serialize)]
struct Attachment {
    id: i64,
    filename: Option<String>,
    content_type: Option<String>,
    size: i32,
}

from_row!(Attachment {
    id,
    filename,
    content_type,
    size,
});

/// The list page.
#[derive(Serialize, Default)]
pub(super) struct InboundPage {
    mails: Vec<Mail>,
    next: Option<i64>,
}

/// One mail's page.
#[derive(Serialize, Default)]
pub(super) struct MailPage {
    id: i64,
    fields: Vec<(&'static str, String)>,
    text: Option<String>,
    html_source: Option<String>,
    headers: Option<String>,
    spam_report: Option<String>,
    attachments: Vec<Attachment>,
}

page! {
    InboundPage => "inbound.html", "inbound";
    MailPage => "inbound_email.html", "inbound";
}

/// `GET /inbound`.
pub async fn list(
    State(state): State<ConsoleState>,
    session: Session,
    Query(q): Query<InboundListQuery>,
) -> Result<Html<String>> {
    let client = state.pool.get().await?;
    let rows = client
        .pg_query(queries::INBOUND_LIST, &[&q.before, &PAGE, &session.tenant])
        .await?;
    let mails: Vec<Mail> = queries::decode(&rows)?;
    let next = queries::next_key(&mails, PAGE, |m| m.id);
    pages::render(&session, &InboundPage { mails, next })
}

/// The mail's fields as the page lists them, the empty ones left out.
fn fields(r: &Row) -> Result<Vec<(&'static str, String)>, tokio_postgres::Error> {
    let text = |c: &str| r.try_get::<_, Option<String>>(c);
    let envelope: Option<serde_json::Value> = r.try_get("envelope")?;
    let spam_score: Option<f64> = r.try_get("spam_score")?;
    let fields = [
        ("from", text("from_address")?),
        ("to", text("to_addresses")?),
        ("cc", text("cc")?),
        ("subject", text("subject")?),
        ("received", Some(time(r.try_get("received_at")?))),
        ("Message-ID", text("message_id")?),
        ("mode", Some(r.try_get("mode")?)),
        ("sender IP", text("sender_ip")?),
        ("SPF", text("spf")?),
        ("DKIM", text("dkim")?),
        ("spam score", spam_score.map(|s| s.to_string())),
        ("envelope", envelope.map(|e| e.to_string())),
        ("note", text("note")?),
    ];
    Ok(present(fields))
}

/// `GET /inbound/{id}`: the text part is shown as text; HTML is never rendered.
pub async fn page(
    State(state): State<ConsoleState>,
    session: Session,
    Path(id): Path<i64>,
) -> Result<Html<String>> {
    let client = state.pool.get().await?;
    let r = queries::found(&client, queries::INBOUND_GET, &[&id]).await?;
    if !session.sees(r.try_get::<_, Option<String>>("tenant")?.as_deref()) {
        return Err(ConsoleError::NotFound);
    }
    let attachments = client
        .pg_query(queries::INBOUND_ATTACHMENTS, &[&id])
        .await?;
    let page = MailPage {
        id,
        fields: fields(&r)?,
        text: r.try_get("text_body")?,
        html_source: r.try_get("html_body")?,
        headers: r.try_get("headers")?,
        spam_report: r.try_get("spam_report")?,
        attachments: queries::decode(&attachments)?,
    };
    pages::render(&session, &page)
}

/// `GET /inbound/{id}/attachments/{attachment}`: always a download, never
/// rendered in the console's origin.
pub async fn attachment(
    State(state): State<ConsoleState>,
    session: Session,
    Path((id, attachment)): Path<(i64, i64)>,
) -> Result<Response> {
    let client = state.pool.get().await?;
    let r = queries::found(&client, queries::INBOUND_ATTACHMENT, &[&id, &attachment]).await?;
    if !session.sees(r.try_get::<_, Option<String>>("tenant")?.as_deref()) {
        return Err(ConsoleError::NotFound);
    }
    let filename: Option<String> = r.try_get("filename")?;
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
    let content: Vec<u8> = r.try_get("content")?;
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
