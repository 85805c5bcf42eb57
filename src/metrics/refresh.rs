//! The queue gauges' background refresh: on a connection of its own (never
//! the dispatcher's pool), at most every `ops.refresh_interval` and never
//! more often than ten times the last read took, so a slow database gets
//! less of this work, not more. Scrapes only read what it last stored.

use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio_util::sync::CancellationToken;

use super::Metrics;
use crate::db::Pg;
use crate::db::{self, DbError, statements};

/// The longest one refresh statement may run.
const STATEMENT_TIMEOUT: &str = "30s";

/// Refreshes `metrics` from `url` every `interval` until `shutdown`; `direct`
/// when `url` reaches PostgreSQL itself, not a transaction pooler (where the
/// connection's own settings would stay with a server connection others
/// are lent next, so none are made).
pub async fn run(
    url: String,
    direct: bool,
    metrics: Arc<Metrics>,
    interval: Duration,
    shutdown: CancellationToken,
) {
    let mut client: Option<tokio_postgres::Client> = None;
    loop {
        let started = Instant::now();
        match read(&url, direct, &mut client, &metrics, started).await {
            Ok(()) => {}
            Err(e) => {
                metrics.refresh_failed();
                client = None;
                tracing::warn!(error = %e, "cannot refresh the queue gauges; keeping the last values");
            }
        }
        let wait = interval.max(started.elapsed() * 10);
        tokio::select! {
            () = tokio::time::sleep(wait) => {}
            () = shutdown.cancelled() => return,
        }
    }
}

/// One refresh, connecting first when there is no connection.
async fn read(
    url: &str,
    direct: bool,
    client: &mut Option<tokio_postgres::Client>,
    metrics: &Metrics,
    started: Instant,
) -> Result<(), DbError> {
    if client.as_ref().is_none_or(|c| c.is_closed()) {
        let fresh = db::connect(url).await?;
        if direct {
            fresh
                .batch_execute(&format!(
                    "SET statement_timeout = '{STATEMENT_TIMEOUT}'; SET application_name = 'outpost metrics'"
                ))
                .await?;
        }
        *client = Some(fresh);
    }
    let Some(c) = client.as_ref() else {
        return Ok(());
    };
    let rows = c.pg_query(statements::QUEUE_COUNTS, &[]).await?;
    let mut counts = Vec::with_capacity(rows.len());
    for r in &rows {
        counts.push((r.try_get(0)?, r.try_get(1)?, r.try_get(2)?));
    }
    let oldest: Option<f64> = c
        .pg_query_one(statements::OLDEST_QUEUED, &[])
        .await?
        .try_get(0)?;
    metrics.set_queue(
        &counts,
        oldest.unwrap_or(0.0),
        started.elapsed().as_secs_f64(),
    );
    Ok(())
}
