//! Enqueueing from Rust (what `outpost send` does): one call to `outpost.enqueue`.

use chrono::{DateTime, Utc};

use crate::db::Pg;
use crate::db::{DbError, statements};
use crate::message::{Kind, MessageId};

/// A message to insert; unset fields take the table's defaults.
#[derive(Debug, Clone)]
pub struct NewMessage {
    pub kind: Kind,
    pub to_user: Option<String>,
    pub to_address: Option<String>,
    pub template: Option<String>,
    pub context: serde_json::Value,
    pub locale: Option<String>,
    pub subject: Option<String>,
    pub body: Option<String>,
    pub html: Option<String>,
    pub options: serde_json::Value,
    pub provider: Option<String>,
    pub tenant: Option<String>,
    pub priority: i32,
    pub run_at: Option<DateTime<Utc>>,
    pub expires_at: Option<DateTime<Utc>>,
    pub idempotency_key: Option<String>,
    pub max_attempts: Option<i32>,
    /// NULL: transactional, never subject to the recipient's preferences.
    pub category: Option<String>,
    /// Messages to one recipient of one kind with the same key are combined
    /// within `options.digest_window`.
    pub digest_key: Option<String>,
}

impl NewMessage {
    /// A message of `kind` with no recipient or content yet.
    pub fn new(kind: Kind) -> Self {
        Self {
            kind,
            to_user: None,
            to_address: None,
            template: None,
            context: serde_json::json!({}),
            locale: None,
            subject: None,
            body: None,
            html: None,
            options: serde_json::json!({}),
            provider: None,
            tenant: None,
            priority: 0,
            run_at: None,
            expires_at: None,
            idempotency_key: None,
            max_attempts: None,
            category: None,
            digest_key: None,
        }
    }
}

/// Inserts `message` and returns its id (the first message's id when its
/// idempotency key was used before).
pub async fn enqueue(client: &impl Pg, message: &NewMessage) -> Result<MessageId, DbError> {
    let m = message;
    let row = client
        .pg_query_one(
            statements::ENQUEUE,
            &[
                &m.kind.as_str(),
                &m.to_user,
                &m.to_address,
                &m.template,
                &m.context,
                &m.locale,
                &m.subject,
                &m.body,
                &m.html,
                &m.options,
                &m.provider,
                &m.tenant,
                &m.priority,
                &m.run_at,
                &m.expires_at,
                &m.idempotency_key,
                &m.max_attempts,
                &m.category,
                &m.digest_key,
            ],
        )
        .await?;
    Ok(MessageId(row.get(0)))
}
