//! Claiming: one statement takes a batch of due messages with SKIP LOCKED,
//! leases them to this worker and commits before anything is sent.

use std::time::Duration;

use deadpool_postgres::Pool;
use tokio_postgres::Row;

use crate::db::DbError;
use crate::message::{ClaimedMessage, Kind, MessageId, Recipient};

/// Claims up to `limit` due messages of `kinds` for `worker`.
pub async fn claim(
    pool: &Pool,
    sql: &str,
    worker: &str,
    lease: Duration,
    limit: u32,
    kinds: &[Kind],
) -> Result<Vec<ClaimedMessage>, DbError> {
    if limit == 0 || kinds.is_empty() {
        return Ok(Vec::new());
    }
    let kinds: Vec<&str> = kinds.iter().map(|k| k.as_str()).collect();
    let client = pool.get().await?;
    let statement = client.prepare_cached(sql).await?;
    let rows = client
        .query(
            &statement,
            &[&i64::from(limit), &worker, &lease.as_secs_f64(), &kinds],
        )
        .await?;
    Ok(rows.iter().map(decode).collect())
}

fn decode(row: &Row) -> ClaimedMessage {
    let kind: &str = row.get("kind");
    let recipient = row
        .get::<_, Option<String>>("r_user_id")
        .map(|user_id| Recipient {
            user_id,
            email: row.get("r_email"),
            phone: row.get("r_phone"),
            locale: row.get("r_locale"),
            timezone: row.get("r_timezone"),
            tenant: row.get("r_tenant"),
            push_named_user: row.get("r_push_named_user"),
            name: row.get("r_name"),
        });
    ClaimedMessage {
        id: MessageId(row.get("id")),
        attempt: row.get("attempts"),
        // The kind CHECK constraint admits only the five names.
        kind: kind.parse().unwrap_or(Kind::Email),
        to_user: row.get("to_user"),
        to_address: row.get("to_address"),
        template: row.get("template"),
        context: row.get("context"),
        locale: row.get("locale"),
        subject: row.get("subject"),
        body: row.get("body"),
        html: row.get("html"),
        options: row.get("options"),
        provider: row.get("provider"),
        tenant: row.get("tenant"),
        max_attempts: row.get("max_attempts"),
        expires_at: row.get("expires_at"),
        created_at: row.get("created_at"),
        recipient,
        suppressed: row.get("suppressed"),
    }
}
