//! Claiming: one statement takes a batch of due messages with SKIP LOCKED,
//! at most as many of each kind as that kind can start sending now, leases
//! them to this worker and commits before anything is sent.

use std::time::{Duration, Instant};

use deadpool_postgres::Pool;
use tokio_postgres::Row;

use crate::db::{DbError, statements};
use crate::message::{ClaimedMessage, Kind, MessageId, Recipient};

/// Claims for `worker` up to `limit` due messages in all, and of each kind in
/// `per_kind` at most its count.
pub async fn claim(
    pool: &Pool,
    sql: &str,
    worker: &str,
    lease: Duration,
    limit: u32,
    per_kind: &[(Kind, u32)],
) -> Result<Vec<ClaimedMessage>, DbError> {
    let per_kind: Vec<(Kind, u32)> = per_kind
        .iter()
        .filter(|(_, n)| *n > 0)
        .map(|(k, n)| (*k, (*n).min(limit)))
        .collect();
    if limit == 0 || per_kind.is_empty() {
        return Ok(Vec::new());
    }
    let kinds: Vec<Kind> = per_kind.iter().map(|(k, _)| *k).collect();
    let counts: Vec<i32> = per_kind
        .iter()
        .map(|(_, n)| i32::try_from(*n).unwrap_or(i32::MAX))
        .collect();
    let mut client = pool.get().await?;
    let statement = client.prepare_cached(sql).await?;
    let tx = client.transaction().await?;
    tx.batch_execute(statements::CLAIM_PLAN_ONCE).await?;
    // Measured before the statement is sent, so never later than the
    // database's own `now() + lease`.
    let lease_deadline = Instant::now() + lease;
    let rows = tx
        .query(
            &statement,
            &[
                &i64::from(limit),
                &worker,
                &lease.as_secs_f64(),
                &kinds,
                &counts,
            ],
        )
        .await?;
    tx.commit().await?;
    Ok(rows.iter().map(|r| decode(r, lease_deadline)).collect())
}

fn decode(row: &Row, lease_deadline: Instant) -> ClaimedMessage {
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
        kind: row.get("kind"),
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
        lease_deadline,
        controls: crate::message::Controls {
            category: row.get("category"),
            priority: i32::from(row.get::<_, i16>("priority")),
            blocked_by: row.get("blocked_by"),
            quiet_hours: row.get("r_quiet_hours"),
            digest: row
                .get::<_, Option<serde_json::Value>>("digest")
                .and_then(|items| serde_json::from_value(items).ok()),
        },
    }
}
