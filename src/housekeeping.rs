//! Housekeeping on cron schedules (croner): purge finished messages, old
//! events and old inbound mail in small batches, expire overdue messages,
//! fire `outpost.schedules`. Each tick of each job runs on one daemon only.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use deadpool_postgres::Pool;
use tokio_util::sync::CancellationToken;

pub use crate::config::{HousekeepingSettings as Settings, Job, Task};
use crate::db::Pg;
use crate::db::{self, DbError, statements};
use crate::schedule;

/// Takes tick `tick` of `job` for `worker`; false when another daemon has it.
pub async fn claim_tick(
    pool: &Pool,
    job: &str,
    tick: DateTime<Utc>,
    worker: &str,
) -> Result<bool, DbError> {
    let client = pool.get().await?;
    Ok(client
        .pg_query_opt(statements::CRON_CLAIM, &[&job, &tick, &worker])
        .await?
        .is_some())
}

/// Deletes rows older than `age` with `statement`, in batches.
async fn purge(pool: &Pool, statement: &str, age: Duration, batch: i64) -> Result<u64, DbError> {
    let client = pool.get().await?;
    db::in_batches(&client, statement, &[&age.as_secs_f64()], batch).await
}

/// Does one job's work now.
pub async fn run_task(pool: &Pool, settings: &Settings, task: Task) -> Result<u64, DbError> {
    match task {
        Task::PurgeMessages => {
            purge(
                pool,
                statements::PURGE_MESSAGES,
                settings.retention,
                settings.batch_size,
            )
            .await
        }
        Task::PurgeEvents => {
            purge(
                pool,
                statements::PURGE_EVENTS,
                settings.event_retention,
                settings.batch_size,
            )
            .await
        }
        Task::PurgeInbound => {
            purge(
                pool,
                statements::PURGE_INBOUND,
                settings.inbound_retention,
                settings.batch_size,
            )
            .await
        }
        Task::Expire => {
            let client = pool.get().await?;
            db::in_batches(&client, statements::EXPIRE, &[], settings.batch_size).await
        }
        Task::Schedules => Ok(schedule::fire_due(pool).await? as u64),
    }
}

/// Runs the job under an advisory lock, so a slow run never overlaps the
/// next tick's on another daemon; `None` when the lock is taken. A session
/// lock on PostgreSQL itself; behind a transaction pooler, where a session
/// lock would stay with whichever server connection took it, a transaction
/// lock in a transaction held open (on a connection of the pool) for the run.
async fn locked(pool: &Pool, settings: &Settings, job: &Job) -> Result<Option<u64>, DbError> {
    let mut client = pool.get().await?;
    let key = format!("outpost.cron.{}", job.name);
    if db::pooled::active() {
        let tx = client.transaction().await?;
        let got: bool = tx
            .pg_query_one(statements::CRON_LOCK_XACT, &[&key])
            .await?
            .try_get(0)?;
        if !got {
            return Ok(None);
        }
        let result = run_task(pool, settings, job.task).await;
        tx.commit().await?;
        return result.map(Some);
    }
    let got: bool = client
        .pg_query_one(statements::CRON_LOCK, &[&key])
        .await?
        .try_get(0)?;
    if !got {
        return Ok(None);
    }
    let result = run_task(pool, settings, job.task).await;
    client.pg_execute(statements::CRON_UNLOCK, &[&key]).await?;
    result.map(Some)
}

/// Runs every job on its schedule until `shutdown`, as `worker` (the name
/// its ticks are claimed under).
pub async fn run(pool: Pool, worker: String, settings: Arc<Settings>, shutdown: CancellationToken) {
    let mut tasks = tokio::task::JoinSet::new();
    let worker: Arc<str> = worker.into();
    for job in settings.jobs.clone() {
        let (pool, worker, s, stop) = (
            pool.clone(),
            worker.clone(),
            settings.clone(),
            shutdown.clone(),
        );
        tasks.spawn(async move { run_job(pool, worker, s, job, stop).await });
    }
    while tasks.join_next().await.is_some() {}
}

async fn run_job(
    pool: Pool,
    worker: Arc<str>,
    settings: Arc<Settings>,
    job: Job,
    shutdown: CancellationToken,
) {
    loop {
        let now = Utc::now();
        let Ok(tick) = job.cron.find_next_occurrence(&now, false) else {
            tracing::error!(job = job.name, "cron expression never matches; job stopped");
            return;
        };
        let wait = (tick - now).to_std().unwrap_or_default();
        tokio::select! {
            () = tokio::time::sleep(wait) => {}
            () = shutdown.cancelled() => return,
        }
        match claim_tick(&pool, job.name, tick, &worker).await {
            Ok(true) => match locked(&pool, &settings, &job).await {
                Ok(Some(0)) => {}
                Ok(Some(n)) => tracing::info!(job = job.name, rows = n, "housekeeping job done"),
                Ok(None) => tracing::info!(
                    job = job.name,
                    "previous run still going elsewhere; tick skipped"
                ),
                Err(e) => tracing::warn!(job = job.name, error = %e, "housekeeping job failed"),
            },
            Ok(false) => {}
            Err(e) => tracing::warn!(job = job.name, error = %e, "cannot claim housekeeping tick"),
        }
    }
}
