//! The one decoder of a message's shape (`message_shape.sql`), shared by the
//! claim and the console's preview.

use std::time::Instant;

use tokio_postgres::Row;

use super::{ClaimedMessage, Controls, MessageId, Recipient};
use crate::suppression::Verdict;

/// A claimed row that could not be read: it fails alone, permanently.
#[derive(Debug, thiserror::Error)]
#[error("cannot read column {column} of message {id}: {reason}")]
pub struct Undecodable {
    pub id: MessageId,
    pub attempt: i32,
    pub column: &'static str,
    pub reason: String,
}

/// Reads `column`, or says which column could not be read and why.
fn column<'a, T: tokio_postgres::types::FromSql<'a>>(
    row: &'a Row,
    column: &'static str,
) -> Result<T, (&'static str, String)> {
    row.try_get(column).map_err(|e| {
        // tokio-postgres says "error deserializing column N"; the cause says why.
        let reason =
            std::error::Error::source(&e).map_or_else(|| e.to_string(), ToString::to_string);
        (column, reason)
    })
}

/// Reads a row of `message_shape.sql` (a claim's or a preview's), each
/// column with `try_get`: a row an application wrote badly is refused with
/// the column and the reason, never a panic.
pub fn decode(row: &Row, lease_deadline: Instant) -> Result<ClaimedMessage, Undecodable> {
    let id = MessageId(row.try_get("id").map_err(|e| Undecodable {
        id: MessageId(0),
        attempt: 0,
        column: "id",
        reason: e.to_string(),
    })?);
    let attempt: i32 = row.try_get("attempts").unwrap_or(1);
    decode_columns(row, id, attempt, lease_deadline).map_err(|(column, reason)| Undecodable {
        id,
        attempt,
        column,
        reason,
    })
}

fn decode_columns(
    row: &Row,
    id: MessageId,
    attempt: i32,
    lease_deadline: Instant,
) -> Result<ClaimedMessage, (&'static str, String)> {
    let recipient = match column::<Option<String>>(row, "r_user_id")? {
        None => None,
        Some(user_id) => Some(Recipient {
            user_id,
            email: column(row, "r_email")?,
            phone: column(row, "r_phone")?,
            locale: column(row, "r_locale")?,
            timezone: column(row, "r_timezone")?,
            tenant: column(row, "r_tenant")?,
            push_named_user: column(row, "r_push_named_user")?,
            name: column(row, "r_name")?,
        }),
    };
    let digest = match column::<Option<serde_json::Value>>(row, "digest")? {
        None => None,
        Some(items) => Some(serde_json::from_value(items).map_err(|e| ("digest", e.to_string()))?),
    };
    Ok(ClaimedMessage {
        id,
        attempt,
        kind: column(row, "kind")?,
        to_user: column(row, "to_user")?,
        to_address: column(row, "to_address")?,
        template: column(row, "template")?,
        context: column(row, "context")?,
        locale: column(row, "locale")?,
        subject: column(row, "subject")?,
        body: column(row, "body")?,
        html: column(row, "html")?,
        options: column(row, "options")?,
        provider: column(row, "provider")?,
        tenant: column(row, "tenant")?,
        max_attempts: column(row, "max_attempts")?,
        expires_at: column(row, "expires_at")?,
        created_at: column(row, "created_at")?,
        recipient,
        address: column(row, "address")?,
        suppression: Verdict::from_claim(
            column(row, "suppressed")?,
            column(row, "all_suppressed")?,
        ),
        lease_deadline,
        controls: Controls {
            category: column(row, "category")?,
            priority: i32::from(column::<i16>(row, "priority")?),
            blocked_by: column(row, "blocked_by")?,
            quiet_hours: column(row, "r_quiet_hours")?,
            digest,
        },
    })
}
