//! Claiming: one statement takes a batch of due messages with SKIP LOCKED,
//! at most as many of each kind as that kind can start sending now, leases
//! them to this worker and commits before anything is sent.

use std::time::{Duration, Instant};

use deadpool_postgres::Pool;

use super::outcome::{self, End, Outcome};
use crate::channel::Channels;
use crate::config::LimitsSettings;
use crate::db::Pg;
use crate::db::{DbError, statements};
use crate::message::{ClaimedMessage, Kind, Undecodable, decode};

/// What one claim took.
#[derive(Debug, Default)]
pub struct Batch {
    pub messages: Vec<ClaimedMessage>,
    /// The messages taken hold [`CLAIM_BYTES`] or more: the claim may have
    /// stopped there with more due, so a short batch does not mean a drained
    /// queue.
    pub full: bool,
}

/// The tenants' rates (`[limits.rate]`) as the claim takes them: each rated
/// tenant's kind takes no more than its bucket in the database holds.
#[derive(Debug, Clone, Default)]
pub struct Rates {
    tenants: Vec<String>,
    kinds: Vec<String>,
    per_second: Vec<f64>,
}

impl Rates {
    pub fn new(limits: &LimitsSettings) -> Self {
        let mut rates = Self::default();
        for ((tenant, kind), per_second) in &limits.rate {
            rates.tenants.push(tenant.clone());
            rates.kinds.push(kind.as_str().to_owned());
            rates.per_second.push(*per_second);
        }
        rates
    }

    /// `tenant`'s rate for `kind`, if it has one.
    fn of(&self, tenant: &str, kind: &str) -> Option<f64> {
        (0..self.tenants.len())
            .find(|&i| self.tenants[i] == tenant && self.kinds[i] == kind)
            .map(|i| self.per_second[i])
    }

    /// What a claim's `rows` took of each rated tenant's kind: (tenant, kind,
    /// rate, messages).
    fn spent(&self, rows: &[tokio_postgres::Row]) -> Vec<(String, String, f64, i32)> {
        let mut spent: Vec<(String, String, f64, i32)> = Vec::new();
        if self.tenants.is_empty() {
            return spent;
        }
        for row in rows {
            let (Ok(Some(tenant)), Ok(kind)) = (
                row.try_get::<_, Option<String>>("tenant"),
                row.try_get::<_, String>("kind"),
            ) else {
                continue;
            };
            let Some(rate) = self.of(&tenant, &kind) else {
                continue;
            };
            match spent.iter_mut().find(|s| s.0 == tenant && s.1 == kind) {
                Some(s) => s.3 += 1,
                None => spent.push((tenant, kind, rate, 1)),
            }
        }
        spent
    }
}

/// Claims for `worker` up to `limit` due messages in all, and of each kind in
/// `per_kind` at most its count, and of a rated tenant's kind no more than
/// `rates` let it; `channels` name each kind's default provider, so that a
/// paused one holds the messages that would use it.
#[allow(clippy::too_many_arguments)]
pub async fn claim(
    pool: &Pool,
    sql: &str,
    worker: &str,
    lease: Duration,
    limit: u32,
    per_kind: &[(Kind, u32)],
    channels: &Channels,
    rates: &Rates,
) -> Result<Batch, DbError> {
    let per_kind: Vec<(Kind, u32)> = per_kind
        .iter()
        .filter(|(_, n)| *n > 0)
        .map(|(k, n)| (*k, (*n).min(limit)))
        .collect();
    if limit == 0 || per_kind.is_empty() {
        return Ok(Batch::default());
    }
    let kinds: Vec<Kind> = per_kind.iter().map(|(k, _)| *k).collect();
    let providers: Vec<&str> = kinds
        .iter()
        .map(|k| channels.pick(*k, None).map_or("", |c| c.name()))
        .collect();
    let counts: Vec<i32> = per_kind
        .iter()
        .map(|(_, n)| i32::try_from(*n).unwrap_or(i32::MAX))
        .collect();
    let mut client = pool.get().await?;
    // Behind a transaction pooler nothing is prepared across transactions:
    // the claim runs as one unnamed statement (db::pooled).
    let pooler = crate::db::pooled::active();
    let statement = match pooler {
        false => Some(client.prepare_cached(sql).await?),
        true => None,
    };
    let tx = client.transaction().await?;
    tx.batch_execute(match pooler {
        false => statements::CLAIM_PLAN_ONCE,
        true => statements::CLAIM_POOLED,
    })
    .await?;
    // Measured before the statement is sent, so never later than the
    // database's own `now() + lease`.
    let lease_deadline = Instant::now() + lease;
    let params: [&(dyn tokio_postgres::types::ToSql + Sync); 10] = [
        &i64::from(limit),
        &worker,
        &lease.as_secs_f64(),
        &kinds,
        &counts,
        &CLAIM_BYTES,
        &providers,
        &rates.tenants,
        &rates.kinds,
        &rates.per_second,
    ];
    let rows = match &statement {
        Some(statement) => tx.query(statement, &params).await?,
        None => tx.pg_query(sql, &params).await?,
    };
    let spent = rates.spent(&rows);
    if !spent.is_empty() {
        let tenants: Vec<&str> = spent.iter().map(|s| s.0.as_str()).collect();
        let kinds: Vec<&str> = spent.iter().map(|s| s.1.as_str()).collect();
        let per_second: Vec<f64> = spent.iter().map(|s| s.2).collect();
        let taken: Vec<i32> = spent.iter().map(|s| s.3).collect();
        tx.pg_execute(
            statements::TENANT_RATE_SPEND,
            &[&tenants, &kinds, &per_second, &taken],
        )
        .await?;
    }
    tx.commit().await?;
    let mut claimed = Vec::with_capacity(rows.len());
    let mut undecodable = Vec::new();
    let mut bytes: i64 = 0;
    for row in &rows {
        bytes = bytes.saturating_add(row.try_get::<_, i64>("payload_bytes").unwrap_or(0));
        match decode(row, lease_deadline) {
            Ok(message) => claimed.push(message),
            Err(bad) => undecodable.push(bad),
        }
    }
    drop(rows);
    if !undecodable.is_empty() {
        // The rest of the batch is claimed and goes on whatever happens
        // here; unrecorded, these come back after their lease, and fail
        // again then.
        if let Err(e) = fail_undecodable(pool, worker, &undecodable).await {
            tracing::warn!(error = %e, count = undecodable.len(),
                "could not record the failure of unreadable messages");
        }
    }
    Ok(Batch {
        messages: claimed,
        full: bytes >= CLAIM_BYTES,
    })
}

/// Fails each row that could not be read, permanently, with the column and
/// the reason as its `last_error`; the rest of the batch goes on.
async fn fail_undecodable(
    pool: &Pool,
    worker: &str,
    undecodable: &[Undecodable],
) -> Result<(), DbError> {
    let now = chrono::Utc::now();
    let outcomes: Vec<Outcome> = undecodable
        .iter()
        .filter(|bad| bad.column != "id")
        .map(|bad| {
            tracing::warn!(id = %bad.id, column = bad.column, reason = %bad.reason,
                "a claimed message cannot be read; it fails");
            Outcome {
                id: bad.id,
                attempt: bad.attempt,
                provider: None,
                end: End::Failed {
                    error: format!("cannot read column {}: {}", bad.column, bad.reason),
                    provider_code: None,
                },
                note: None,
                started_at: now,
                finished_at: now,
            }
        })
        .collect();
    outcome::record(pool, worker, &outcomes).await?;
    Ok(())
}

/// The most bytes of context, options, subject, body and html one claim
/// takes (the first message is always taken): what bounds a batch's memory.
pub const CLAIM_BYTES: i64 = 32 * 1024 * 1024;
