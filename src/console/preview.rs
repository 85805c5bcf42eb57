//! `GET /messages/{id}/preview`: the message as it would be sent now,
//! served with a CSP that forbids every remote load and script; the
//! message's page frames it in a sandboxed iframe.

use axum::extract::{Path, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use tokio_postgres::Row;

use super::pages::PAGES;
use super::{ConsoleState, Result, queries};
use crate::channel::Envelope;
use crate::message::{ClaimedMessage, Kind, MessageId, Recipient};

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
pub async fn preview(State(state): State<ConsoleState>, Path(id): Path<i64>) -> Result<Response> {
    let client = state.pool.get().await?;
    let m = queries::found(&client, queries::MESSAGE, &[&id]).await?;
    let envelope = envelope(&state, &client, id, &m).await?;
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

/// The message as a send would see it: its recipient (looked up in the
/// configured relation), locale and address resolved as for a send.
async fn envelope(
    state: &ConsoleState,
    client: &deadpool_postgres::Object,
    id: i64,
    m: &Row,
) -> Result<Envelope> {
    let kind: Kind = m.try_get("kind")?;
    let to_user: Option<String> = m.try_get("to_user")?;
    let recipient = match &to_user {
        Some(user) => client
            .query_opt(&queries::recipient(&state.config.recipients), &[user])
            .await
            .ok()
            .flatten()
            .map(|r| Recipient {
                user_id: r.try_get("user_id").ok().flatten().unwrap_or_default(),
                email: r.try_get("email").ok().flatten().unwrap_or_default(),
                phone: r.try_get("phone").ok().flatten().unwrap_or_default(),
                locale: r.try_get("locale").ok().flatten().unwrap_or_default(),
                timezone: r.try_get("timezone").ok().flatten().unwrap_or_default(),
                tenant: r.try_get("tenant").ok().flatten().unwrap_or_default(),
                push_named_user: r
                    .try_get("push_named_user")
                    .ok()
                    .flatten()
                    .unwrap_or_default(),
                name: r.try_get("name").ok().flatten().unwrap_or_default(),
            }),
        None => None,
    };
    let locale = m
        .try_get::<_, Option<String>>("locale")?
        .or_else(|| recipient.as_ref().and_then(|r| r.locale.clone()))
        .unwrap_or_else(|| state.config.default_locale.clone());
    let message = ClaimedMessage {
        id: MessageId(id),
        attempt: m.try_get("attempts")?,
        kind,
        to_user,
        to_address: m.try_get("to_address")?,
        template: m.try_get("template")?,
        context: m.try_get("context")?,
        locale: m.try_get("locale")?,
        subject: m.try_get("subject")?,
        body: m.try_get("body")?,
        html: m.try_get("html")?,
        options: m.try_get("options")?,
        provider: m.try_get("provider")?,
        tenant: m.try_get("tenant")?,
        max_attempts: m.try_get("max_attempts")?,
        expires_at: m.try_get("expires_at")?,
        created_at: m.try_get("created_at")?,
        recipient,
        suppressed: Vec::new(),
        lease_deadline: std::time::Instant::now(),
        controls: Default::default(),
    };
    Ok(Envelope {
        to: message.to_address.clone().unwrap_or_default(),
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
