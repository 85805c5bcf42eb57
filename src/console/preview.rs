//! `GET /messages/{id}/preview`: the message as it would be sent now,
//! served with a CSP that forbids every remote load and script; the
//! message's page frames it in a sandboxed iframe.

use axum::extract::{Path, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use super::pages::PAGES;
use super::session::Session;
use super::{ConsoleError, ConsoleState, Result};
use crate::channel::Envelope;
use crate::db::Pg;
use crate::db::statements;
use crate::message::Kind;

/// The preview may show inline styles and data: images; nothing else loads,
/// no script runs, and it may only be framed by the console itself.
const PREVIEW_CSP: &str = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; \
                           font-src data:; sandbox; frame-ancestors 'self'";

/// A bare page: a title and a text (a message that is not an e-mail, or
/// why an e-mail cannot be rendered).
#[derive(Serialize, Default)]
pub(super) struct BarePage {
    title: String,
    text: String,
}

page! {
    BarePage => "bare.html", "";
}

/// `GET /messages/{id}/preview`: the e-mail as rendered now (template,
/// literal HTML or the simple mail); any other kind as its text.
pub async fn preview(
    State(state): State<ConsoleState>,
    session: Session,
    Path(id): Path<i64>,
) -> Result<Response> {
    let client = state.pool.get().await?;
    let envelope = envelope(&state, &client, id).await?;
    if !session.sees(envelope.message.tenant.as_deref()) {
        return Err(ConsoleError::NotFound);
    }
    let html = render(&state, &envelope)?;
    Ok((
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (header::CONTENT_SECURITY_POLICY, PREVIEW_CSP),
            (header::X_FRAME_OPTIONS, "SAMEORIGIN"),
        ],
        html,
    )
        .into_response())
}

/// The message as a send would see it: in the claim's one shape
/// (`message_shape.sql`: its address and recipient decided there), read by
/// the claim's decoder, its locale resolved as for a send. A message with
/// nowhere to go is still shown, addressed to no one.
async fn envelope(
    state: &ConsoleState,
    client: &deadpool_postgres::Object,
    id: i64,
) -> Result<Envelope> {
    let sql = statements::message_preview(&state.config.recipients);
    let row = client
        .pg_query_opt(&sql, &[&id])
        .await?
        .ok_or(ConsoleError::NotFound)?;
    let message = crate::message::decode(&row, std::time::Instant::now())?;
    let (to, locale) = match crate::recipient::resolve(
        &message,
        &state.config.recipients.to_string(),
        &state.config.default_locale,
    ) {
        Ok(resolved) => (resolved.to, resolved.locale),
        Err(_) => (
            String::new(),
            message
                .locale
                .clone()
                .unwrap_or_else(|| state.config.default_locale.clone()),
        ),
    };
    Ok(Envelope {
        to,
        message,
        locale,
    })
}

/// The envelope's message as HTML: an e-mail rendered, anything else (or an
/// e-mail that cannot be) as a bare page.
fn render(state: &ConsoleState, envelope: &Envelope) -> Result<String> {
    let kind = envelope.message.kind;
    let bare = |title: String, text: String| -> Result<String> {
        Ok(PAGES.page(None, &BarePage { title, text })?.0)
    };
    if kind != Kind::Email {
        let text = envelope.message.body.clone().unwrap_or_default();
        return bare(format!("{kind} message"), text);
    }
    match crate::channel::email::render(&state.templates.get(), envelope) {
        Ok(rendered) => Ok(rendered.html),
        Err(e) => bare("Cannot render this e-mail".to_owned(), e.message),
    }
}
