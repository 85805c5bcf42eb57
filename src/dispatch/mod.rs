//! The dispatcher: claims batches, delivers them concurrently (bounded per
//! kind), decides retries with a pure policy and records outcomes in batches.
//!
//! [`Dispatcher`] exposes each step (claim, deliver, record, rescue) so tests
//! can drive it without sleeping; [`runner::run`] is the long-running loop.

pub mod breaker;
mod caps;
pub mod claim;
mod deliver;
mod fallback;
mod heartbeat;
pub mod listener;
pub mod outcome;
mod plan;
pub mod rescuer;
pub mod retry;
pub mod runner;

use std::collections::HashMap;
use std::sync::Arc;

use chrono::Utc;
use deadpool_postgres::Pool;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::channel::Channels;
use crate::config::Config;
use crate::config::DispatchSettings;
use crate::db::Pg;
use crate::db::{DbError, statements};
use crate::message::{ClaimedMessage, Kind, MessageId, Status};
use crate::metrics::Metrics;
use breaker::Breakers;
pub use heartbeat::Heartbeat;
use outcome::{Outcome, Recorded};
use retry::RetryPolicy;

/// One worker's view of the outbox.
pub struct Dispatcher {
    pool: Pool,
    worker: String,
    channels: Channels,
    policy: RetryPolicy,
    settings: DispatchSettings,
    claim_sql: String,
    recipients: String,
    default_locale: String,
    kind_limits: HashMap<Kind, Arc<Semaphore>>,
    metrics: Option<Arc<Metrics>>,
    heartbeat: Arc<Heartbeat>,
    breakers: Arc<Breakers>,
    quiet_hours: crate::quiet_hours::QuietHoursSettings,
    limits: crate::config::LimitsSettings,
    rates: claim::Rates,
}

/// What one rescue pass did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Rescued {
    /// Expired leases returned to the queue.
    pub requeued: usize,
    /// Expired leases whose budget was spent.
    pub failed: usize,
    /// Queued messages past `expires_at`.
    pub expired: usize,
}

/// A message this worker holds that must be handed back on shutdown.
#[derive(Debug, Clone, Copy)]
pub struct Unfinished {
    pub id: MessageId,
    /// The attempt this worker's claim began.
    pub attempt: i32,
    /// When its send began; `None` if it never did.
    pub started_at: Option<chrono::DateTime<Utc>>,
}

/// A claimed message with the send slot of its kind, ready to send at once.
#[derive(Debug)]
pub struct Startable {
    pub message: ClaimedMessage,
    /// `None` when its kind has no limit.
    pub slot: Option<OwnedSemaphorePermit>,
}

/// What [`Dispatcher::claim_startable`] took.
#[derive(Debug)]
pub struct StartableBatch {
    pub messages: Vec<Startable>,
    /// The claim reached its byte budget ([`claim::CLAIM_BYTES`]): more may be due.
    pub full: bool,
}

const MAINTENANCE_BATCH: i64 = 1000;

impl Dispatcher {
    pub fn new(pool: Pool, config: &Config, channels: Channels, worker: impl Into<String>) -> Self {
        let kind_limits = config
            .dispatch
            .kind_concurrency
            .iter()
            .map(|(kind, limit)| (*kind, Arc::new(Semaphore::new(*limit))))
            .collect();
        Self {
            pool,
            worker: worker.into(),
            channels,
            policy: config.retry.into(),
            settings: config.dispatch.clone(),
            claim_sql: statements::claim(&config.recipients),
            recipients: config.recipients.to_string(),
            default_locale: config.default_locale.clone(),
            kind_limits,
            metrics: None,
            heartbeat: Arc::default(),
            breakers: Arc::new(Breakers::new(config.dispatch.breaker)),
            quiet_hours: config.quiet_hours.clone(),
            limits: config.limits.clone(),
            rates: claim::Rates::new(&config.limits),
        }
    }

    /// Shares `other`'s circuit breakers and kind slots (one daemon serving
    /// several databases: a provider's breaker and a kind's concurrency are
    /// the provider's, whichever database a message came from).
    pub fn sharing_limits_of(mut self, other: &Dispatcher) -> Self {
        self.breakers = other.breakers.clone();
        self.kind_limits = other.kind_limits.clone();
        self
    }

    /// Counts every attempt in `metrics`.
    pub fn with_metrics(mut self, metrics: Arc<Metrics>) -> Self {
        self.metrics = Some(metrics);
        self
    }

    pub fn heartbeat(&self) -> &Arc<Heartbeat> {
        &self.heartbeat
    }

    /// A worker name unique to this process: host, pid and a random suffix.
    pub fn default_worker_name() -> String {
        let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
            .map(|h| h.trim().to_owned())
            .unwrap_or_else(|_| "localhost".to_owned());
        format!(
            "{host}:{}:{:04x}",
            std::process::id(),
            rand::random::<u16>()
        )
    }

    /// Each provider's circuit breaker state (see [`Breakers::snapshot`]).
    pub fn circuits(&self) -> Vec<(String, breaker::Circuit)> {
        self.breakers.snapshot()
    }

    pub fn worker(&self) -> &str {
        &self.worker
    }

    pub fn settings(&self) -> &DispatchSettings {
        &self.settings
    }

    pub fn pool(&self) -> &Pool {
        &self.pool
    }

    /// Each kind's free send slots right now (kinds with none left out).
    pub fn free_slots(&self) -> Vec<(Kind, u32)> {
        Kind::ALL
            .into_iter()
            .map(|k| {
                let free = self
                    .kind_limits
                    .get(&k)
                    .map_or(self.settings.concurrency, |s| s.available_permits());
                (k, u32::try_from(free).unwrap_or(u32::MAX))
            })
            .filter(|(_, n)| *n > 0)
            .collect()
    }

    /// The most sends of `kind` at once.
    pub fn kind_limit(&self, kind: Kind) -> usize {
        self.settings
            .kind_concurrency
            .get(&kind)
            .copied()
            .unwrap_or(self.settings.concurrency)
    }

    /// Claims up to `limit` due messages of `kinds`, without regard to free
    /// send slots (for tests and tools that deliver what they claim themselves).
    #[tracing::instrument(skip(self, kinds), fields(worker = %self.worker))]
    pub async fn claim(&self, limit: u32, kinds: &[Kind]) -> Result<Vec<ClaimedMessage>, DbError> {
        let per_kind: Vec<(Kind, u32)> = kinds.iter().map(|k| (*k, limit)).collect();
        Ok(self.claim_per_kind(limit, &per_kind).await?.messages)
    }

    async fn claim_per_kind(
        &self,
        limit: u32,
        per_kind: &[(Kind, u32)],
    ) -> Result<claim::Batch, DbError> {
        claim::claim(
            &self.pool,
            &self.claim_sql,
            &self.worker,
            self.settings.lease,
            limit,
            per_kind,
            &self.channels,
            &self.rates,
        )
        .await
    }

    /// Claims only what can start sending now: of each kind in `per_kind` at
    /// most its count (never more than its free send slots), `limit` in all.
    /// Each message comes with its kind's send slot, so none waits for one
    /// while its lease runs.
    pub async fn claim_startable(
        &self,
        limit: u32,
        per_kind: &[(Kind, u32)],
    ) -> Result<StartableBatch, DbError> {
        let per_kind: Vec<(Kind, u32)> = per_kind
            .iter()
            .map(|(k, n)| {
                let free = self
                    .kind_limits
                    .get(k)
                    .map_or(*n as usize, |s| s.available_permits());
                (*k, (*n).min(u32::try_from(free).unwrap_or(u32::MAX)))
            })
            .collect();
        let batch = self.claim_per_kind(limit, &per_kind).await?;
        let mut startable = Vec::with_capacity(batch.messages.len());
        let mut unstartable = Vec::new();
        for message in batch.messages {
            match self.kind_limits.get(&message.kind) {
                None => startable.push(Startable {
                    message,
                    slot: None,
                }),
                Some(limit) => match limit.clone().try_acquire_owned() {
                    Ok(slot) => startable.push(Startable {
                        message,
                        slot: Some(slot),
                    }),
                    // Taken meanwhile by a concurrent caller of this dispatcher.
                    Err(_) => unstartable.push(Unfinished {
                        id: message.id,
                        attempt: message.attempt,
                        started_at: None,
                    }),
                },
            }
        }
        if !unstartable.is_empty() {
            self.release(&unstartable).await?;
        }
        Ok(StartableBatch {
            messages: startable,
            full: batch.full,
        })
    }

    /// Extends this worker's leases on `in_flight` (id, attempt); returns the
    /// ids still held.
    pub async fn renew(
        &self,
        in_flight: &[(MessageId, i32)],
    ) -> Result<std::collections::HashSet<MessageId>, DbError> {
        let ids: Vec<i64> = in_flight.iter().map(|(id, _)| id.0).collect();
        let attempts: Vec<i32> = in_flight.iter().map(|(_, a)| *a).collect();
        let client = self.pool.get().await?;
        let rows = crate::db::pooled::query_cached(
            &client,
            statements::RENEW,
            &[
                &self.worker,
                &ids,
                &attempts,
                &self.settings.lease.as_secs_f64(),
            ],
        )
        .await?;
        Ok(rows.iter().map(|r| MessageId(r.get(0))).collect())
    }

    /// How close to its lease's end a send may still begin.
    pub fn lease_margin(&self) -> std::time::Duration {
        (self.settings.lease / 10).min(std::time::Duration::from_secs(1))
    }

    /// Records a batch of outcomes, each only while this worker holds its lease.
    pub async fn record(&self, outcomes: &[Outcome]) -> Result<Recorded, DbError> {
        outcome::record(&self.pool, &self.worker, outcomes).await
    }

    /// One step: claim what can be sent now (per kind, its free send slots),
    /// deliver it concurrently, record the outcomes. Returns how many
    /// messages were claimed.
    pub async fn run_once(&self) -> Result<usize, DbError> {
        let batch = self
            .claim_startable(self.settings.batch_size, &self.free_slots())
            .await?
            .messages;
        let claimed = batch.len();
        let outcomes = futures_util::future::join_all(
            batch.into_iter().map(|s| self.deliver(s.message, s.slot)),
        )
        .await;
        self.record(&outcomes).await?;
        Ok(claimed)
    }

    /// Runs [`Dispatcher::run_once`] until nothing due is left; returns the total claimed.
    pub async fn drain(&self) -> Result<usize, DbError> {
        let mut total = 0;
        loop {
            let n = self.run_once().await?;
            if n == 0 {
                return Ok(total);
            }
            total += n;
        }
    }

    /// Requeues expired leases (or fails them when their budget is spent) and
    /// expires overdue queued messages.
    pub async fn rescue(&self) -> Result<Rescued, DbError> {
        let client = self.pool.get().await?;
        let mut report = Rescued::default();
        loop {
            let rows = crate::db::pooled::query_cached(
                &client,
                statements::RESCUE,
                &[&self.policy.settings.max_attempts, &MAINTENANCE_BATCH],
            )
            .await?;
            for row in &rows {
                match row.get::<_, Status>(1) {
                    Status::Failed => report.failed += 1,
                    _ => report.requeued += 1,
                }
            }
            if (rows.len() as i64) < MAINTENANCE_BATCH {
                break;
            }
        }
        report.expired = crate::db::in_batches(&client, statements::EXPIRE, &[], MAINTENANCE_BATCH)
            .await? as usize;
        Ok(report)
    }

    /// Hands unfinished messages back to the queue; returns how many were released.
    pub async fn release(&self, unfinished: &[Unfinished]) -> Result<usize, DbError> {
        if unfinished.is_empty() {
            return Ok(0);
        }
        let ids: Vec<i64> = unfinished.iter().map(|u| u.id.0).collect();
        let started: Vec<bool> = unfinished.iter().map(|u| u.started_at.is_some()).collect();
        let started_at: Vec<chrono::DateTime<Utc>> = unfinished
            .iter()
            .map(|u| u.started_at.unwrap_or_else(Utc::now))
            .collect();
        let attempts: Vec<i32> = unfinished.iter().map(|u| u.attempt).collect();
        let client = self.pool.get().await?;
        let rows = client
            .pg_query(
                statements::RELEASE,
                &[&self.worker, &ids, &started, &started_at, &attempts],
            )
            .await?;
        Ok(rows.len())
    }
}
