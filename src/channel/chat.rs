//! In-app messaging: a `chat` outbox row becomes a system message in the
//! user's private channel through `outpost.send_system_message`, rendered
//! from `NAME.txt` (plaintext) or `NAME.html` (html). Sent e-mail reports are
//! mirrored into the same channel.

use std::sync::Arc;

use async_trait::async_trait;
use deadpool_postgres::Pool;

use super::stdout::StdoutSink;
use super::{Channel, Delivery, Envelope, SendError};
use crate::db::Pg;
use crate::db::{DbError, statements};
use crate::message::ClaimedMessage;
use crate::render::Templates;

pub struct InAppChannel {
    pool: Pool,
    templates: Arc<Templates>,
}

impl InAppChannel {
    pub fn new(pool: Pool, templates: Arc<Templates>) -> Self {
        Self { pool, templates }
    }
}

/// A database error as a send error: the SQL functions' own refusals
/// (messaging not enabled…) are permanent, the rest transient.
fn db_error(e: &tokio_postgres::Error) -> SendError {
    match e.as_db_error() {
        Some(db) if db.code().code() == "P0001" || db.code().code().starts_with("23") => {
            SendError::permanent(db.message().to_owned())
        }
        _ => SendError::transient(format!("database error: {e}")),
    }
}

#[async_trait]
impl Channel for InAppChannel {
    fn name(&self) -> &str {
        "inapp"
    }

    async fn send(&self, envelope: &Envelope) -> Result<Delivery, SendError> {
        let m = &envelope.message;
        let (text, format) = compose(&self.templates, envelope)?;
        let client = self
            .pool
            .get()
            .await
            .map_err(|e| SendError::transient(format!("database unavailable: {e}")))?;
        let row = client
            .pg_query_one(
                statements::SEND_SYSTEM_MESSAGE,
                &[&envelope.to, &text, &format, &m.tenant, &m.id.0],
            )
            .await
            .map_err(|e| db_error(&e))?;
        Ok(Delivery::id(Some(format!(
            "chat-message-{}",
            row.get::<_, i64>(0)
        ))))
    }
}

/// The chat message a row becomes: its text rendered from `NAME.txt` or
/// `NAME.html` (by `options.format`), else its body, translated; or why it
/// cannot be sent. The same checks on the console as in the app.
fn compose(
    templates: &Templates,
    envelope: &Envelope,
) -> Result<(String, &'static str), SendError> {
    let m = &envelope.message;
    let (format, extension) = match m
        .options
        .get("format")
        .and_then(|v| v.as_str())
        .unwrap_or("plaintext")
    {
        "plaintext" => ("plaintext", "txt"),
        "html" => ("html", "html"),
        other => {
            return Err(SendError::permanent(format!(
                "chat format must be plaintext or html, not {other:?}"
            )));
        }
    };
    let text = envelope.text(&templates.get(), extension, "chat message")?;
    let text = text.trim().to_owned();
    if text.is_empty() {
        return Err(SendError::permanent("the chat message is empty"));
    }
    Ok((text, format))
}

/// Chat on the console: composed and checked as in the app, then printed.
pub struct StdoutChat {
    templates: Arc<Templates>,
    sink: StdoutSink,
}

impl StdoutChat {
    pub fn new(templates: Arc<Templates>, sink: StdoutSink) -> Self {
        Self { templates, sink }
    }
}

#[async_trait]
impl Channel for StdoutChat {
    fn name(&self) -> &str {
        "console"
    }

    async fn send(&self, envelope: &Envelope) -> Result<Delivery, SendError> {
        let (text, format) = compose(&self.templates, envelope)?;
        let rule = "-".repeat(72);
        let out = format!(
            "{rule}\nOutpost-Id: {}\nKind: chat\nTo: {}\nLocale: {}\nFormat: {format}\n\n{text}\n{rule}\n",
            envelope.message.id, envelope.to, envelope.locale
        );
        super::stdout::print(&self.sink, &out)?;
        Ok(Delivery::default())
    }
}

/// Mirrors sent e-mails into the recipient's private channel.
pub struct Mirror {
    pool: Pool,
    /// Whether to mirror when the message's options do not say.
    default: bool,
}

impl Mirror {
    pub fn new(pool: Pool, default: bool) -> Self {
        Self { pool, default }
    }

    /// Appends `subject` and `text` for a message with a `to_user`, when its
    /// options (`mirror_to_chat`) or the default ask for it. Returns a note for
    /// the attempt; a failure never fails the e-mail, which was already sent.
    pub async fn mirror(
        &self,
        message: &ClaimedMessage,
        subject: &str,
        text: &str,
    ) -> Option<String> {
        let user = message
            .to_user
            .as_deref()
            .filter(|u| !u.trim().is_empty())?;
        let wanted = message
            .options
            .get("mirror_to_chat")
            .and_then(|v| v.as_bool())
            .unwrap_or(self.default);
        if !wanted {
            return None;
        }
        let result = async {
            let client = self.pool.get().await?;
            let row = client
                .pg_query_one(
                    statements::MIRROR_TO_CHAT,
                    &[&user, &subject, &text, &message.id.0, &message.tenant],
                )
                .await?;
            Ok::<Option<i64>, DbError>(row.try_get(0)?)
        }
        .await;
        match result {
            Ok(Some(id)) => Some(format!("mirrored to chat message {id}")),
            Ok(None) => None,
            Err(e) => {
                tracing::warn!(message = %message.id, error = %e, "mirroring an e-mail into chat failed");
                Some(format!("not mirrored to chat: {e}"))
            }
        }
    }
}
