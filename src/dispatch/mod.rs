//! The dispatcher: claims batches, delivers them concurrently (bounded per
//! kind), decides retries with a pure policy and records outcomes in batches.
//!
//! [`Dispatcher`] exposes each step (claim, deliver, record, rescue) so tests
//! can drive it without sleeping; [`runner::run`] is the long-running loop.

pub mod breaker;
mod claim;
mod heartbeat;
pub mod listener;
pub mod outcome;
pub mod rescuer;
pub mod retry;
pub mod runner;

use std::collections::HashMap;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;

use chrono::Utc;
use deadpool_postgres::Pool;
use futures_util::FutureExt;
use tokio::sync::Semaphore;
use tracing::Instrument;

use crate::channel::{Channels, Envelope, SendError};
use crate::config::Config;
use crate::config::DispatchSettings;
use crate::db::{DbError, statements};
use crate::message::{ClaimedMessage, Kind, MessageId, Status};
use crate::metrics::Metrics;
use crate::recipient;
use breaker::{Admit, Breakers};
pub use heartbeat::Heartbeat;
use outcome::{AttemptResult, Outcome, Recorded};
use retry::{Decision, Failure, RetryPolicy};

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
    breakers: Breakers,
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
    /// When its send began; `None` if it never did.
    pub started_at: Option<chrono::DateTime<Utc>>,
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
            policy: config.retry,
            settings: config.dispatch.clone(),
            claim_sql: statements::claim(&config.recipients),
            recipients: config.recipients.to_string(),
            default_locale: config.default_locale.clone(),
            kind_limits,
            metrics: None,
            heartbeat: Arc::default(),
            breakers: Breakers::new(
                config.dispatch.breaker_threshold,
                config.dispatch.breaker_open,
            ),
        }
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

    pub fn worker(&self) -> &str {
        &self.worker
    }

    pub fn settings(&self) -> &DispatchSettings {
        &self.settings
    }

    pub fn pool(&self) -> &Pool {
        &self.pool
    }

    /// Kinds that have a free send slot right now.
    pub fn kinds_with_capacity(&self) -> Vec<Kind> {
        Kind::ALL
            .into_iter()
            .filter(|k| {
                self.kind_limits
                    .get(k)
                    .is_some_and(|s| s.available_permits() > 0)
            })
            .collect()
    }

    /// Claims up to `limit` due messages of `kinds`.
    #[tracing::instrument(skip(self, kinds), fields(worker = %self.worker))]
    pub async fn claim(&self, limit: u32, kinds: &[Kind]) -> Result<Vec<ClaimedMessage>, DbError> {
        claim::claim(
            &self.pool,
            &self.claim_sql,
            &self.worker,
            self.settings.lease,
            limit,
            kinds,
        )
        .await
    }

    /// Delivers one claimed message and decides its outcome. Never fails:
    /// every problem becomes the outcome's error.
    pub async fn deliver(&self, message: ClaimedMessage) -> Outcome {
        match self.deliver_with(message, |_| true).await {
            Ok(outcome) => outcome,
            Err(message) => self.finish(
                &message,
                None,
                Err(SendError::transient("withdrawn before sending")),
                Utc::now(),
            ),
        }
    }

    /// As [`Dispatcher::deliver`], asking `on_start` just before the provider
    /// call; if it answers false (the worker is stopping) nothing is sent and
    /// the message comes back unsent.
    pub async fn deliver_with(
        &self,
        message: ClaimedMessage,
        on_start: impl FnOnce(chrono::DateTime<Utc>) -> bool + Send,
    ) -> Result<Outcome, ClaimedMessage> {
        let span = tracing::info_span!(
            "message",
            id = message.id.0,
            kind = message.kind.as_str(),
            attempt = message.attempt,
            provider = tracing::field::Empty,
        );
        self.deliver_in_span(message, on_start)
            .instrument(span)
            .await
    }

    async fn deliver_in_span(
        &self,
        message: ClaimedMessage,
        on_start: impl FnOnce(chrono::DateTime<Utc>) -> bool + Send,
    ) -> Result<Outcome, ClaimedMessage> {
        let started_at = Utc::now();
        let resolved = match recipient::resolve(&message, &self.recipients, &self.default_locale) {
            Ok(r) => r,
            Err(e) => {
                return Ok(self.finish(
                    &message,
                    None,
                    Err(SendError::permanent(e.to_string())),
                    started_at,
                ));
            }
        };
        if message.suppressed {
            let error = SendError::permanent(format!(
                "{} is on the suppression list (outpost.suppressions); not sent",
                resolved.to
            ));
            let mut outcome = self.finish(&message, None, Err(error), started_at);
            outcome.status = Status::Suppressed;
            return Ok(outcome);
        }
        let mut channel = match self
            .channels
            .pick(message.kind, message.provider.as_deref())
        {
            Ok(c) => c.clone(),
            Err(e) => {
                return Ok(self.finish(
                    &message,
                    None,
                    Err(SendError::permanent(e.to_string())),
                    started_at,
                ));
            }
        };
        let _permit = match self.kind_limits.get(&message.kind) {
            Some(limit) => limit.clone().acquire_owned().await.ok(),
            None => None,
        };
        // Checked once a send slot is ours, right before sending: an open
        // circuit hands the message to the fallback, if any, else it waits.
        let mut failover_note = None;
        if let Admit::No { retry_in } = self.breakers.admit(channel.name()) {
            let fallback = self
                .channels
                .fallback(message.kind)
                .filter(|f| {
                    f.name() != channel.name() && self.breakers.admit(f.name()) == Admit::Yes
                })
                .cloned();
            match fallback {
                Some(fallback) => {
                    failover_note = Some(format!(
                        "{} circuit open; sent through the fallback {}",
                        channel.name(),
                        fallback.name()
                    ));
                    channel = fallback;
                }
                None => return Ok(self.deferred(&message, channel.name(), retry_in, started_at)),
            }
        }
        tracing::Span::current().record("provider", channel.name());
        let started_at = Utc::now();
        if !on_start(started_at) {
            return Err(message);
        }
        let envelope = Envelope {
            message,
            to: resolved.to,
            locale: resolved.locale,
        };
        let timeout = self.settings.send_timeout;
        let send = tokio::time::timeout(timeout, channel.send(&envelope));
        let result = match AssertUnwindSafe(send).catch_unwind().await {
            Ok(Ok(result)) => result,
            Ok(Err(_)) => Err(SendError::transient(format!(
                "{} did not answer within {}",
                channel.name(),
                humantime::format_duration(timeout)
            ))),
            Err(_) => Err(SendError::permanent(format!(
                "internal error: the {} channel panicked on this message",
                channel.name()
            ))),
        };
        match &result {
            Err(e) if e.class != crate::channel::ErrorClass::Permanent => {
                self.breakers.failure(channel.name())
            }
            _ => self.breakers.success(channel.name()),
        }
        let mut outcome = self.finish(&envelope.message, Some(channel.name()), result, started_at);
        if let Some(note) = failover_note {
            outcome.note = Some(match outcome.note {
                Some(existing) => format!("{note}; {existing}"),
                None => note,
            });
        }
        Ok(outcome)
    }

    /// The provider's circuit is open and there is no fallback: back to the
    /// queue until it may close, with the attempt given back.
    fn deferred(
        &self,
        message: &ClaimedMessage,
        provider: &str,
        retry_in: std::time::Duration,
        started_at: chrono::DateTime<Utc>,
    ) -> Outcome {
        let now = Utc::now();
        Outcome {
            id: message.id,
            attempt: message.attempt,
            status: Status::Queued,
            run_at: Some(now + chrono::Duration::from_std(retry_in).unwrap_or_default()),
            result: AttemptResult::Retry,
            provider: Some(provider.to_owned()),
            provider_code: None,
            error: Some(format!(
                "circuit open for provider {provider}: not sent, waiting {}",
                humantime::format_duration(std::time::Duration::from_secs(
                    retry_in.as_secs().max(1)
                ))
            )),
            provider_message_id: None,
            note: None,
            segments: None,
            refund: true,
            started_at,
            finished_at: now,
        }
    }

    fn finish(
        &self,
        message: &ClaimedMessage,
        provider: Option<&str>,
        result: Result<crate::channel::Delivery, SendError>,
        started_at: chrono::DateTime<Utc>,
    ) -> Outcome {
        let finished_at = Utc::now();
        let mut outcome = Outcome {
            id: message.id,
            attempt: message.attempt,
            status: Status::Sent,
            run_at: None,
            result: AttemptResult::Sent,
            provider: provider.map(str::to_owned),
            provider_code: None,
            error: None,
            provider_message_id: None,
            note: None,
            segments: None,
            refund: false,
            started_at,
            finished_at,
        };
        if let Some(metrics) = &self.metrics {
            let result = match &result {
                Ok(_) => "sent",
                Err(e) if e.class == crate::channel::ErrorClass::Permanent => "failed",
                Err(_) => "retry",
            };
            let seconds = (finished_at - started_at).num_microseconds().unwrap_or(0) as f64 / 1e6;
            metrics.send(
                message.kind.as_str(),
                provider.unwrap_or("none"),
                result,
                seconds,
            );
        }
        let error = match result {
            Ok(delivery) => {
                outcome.provider_message_id = delivery.provider_message_id;
                outcome.note = delivery.note;
                outcome.segments = delivery.segments;
                tracing::debug!(
                    provider_message_id =
                        outcome.provider_message_id.as_deref().unwrap_or_default(),
                    "sent"
                );
                return outcome;
            }
            Err(error) => error,
        };
        outcome.provider_code = error.code.clone();
        let failure = Failure {
            attempt: message.attempt,
            max_attempts: message.max_attempts,
            error: &error,
            now: finished_at,
            expires_at: message.expires_at,
        };
        match self.policy.decide(failure, rand::random::<f64>()) {
            Decision::Retry { run_at, .. } => {
                outcome.status = Status::Queued;
                outcome.run_at = Some(run_at);
                outcome.result = AttemptResult::Retry;
                outcome.error = Some(error.message);
            }
            Decision::Fail { reason } => {
                outcome.status = Status::Failed;
                outcome.result = AttemptResult::Failed;
                outcome.error = Some(reason);
            }
            Decision::Expire { reason } => {
                outcome.status = Status::Expired;
                outcome.result = AttemptResult::Failed;
                outcome.error = Some(reason);
            }
        }
        tracing::info!(
            status = outcome.status.as_str(),
            error = outcome.error.as_deref().unwrap_or_default(),
            "attempt failed"
        );
        outcome
    }

    /// Records a batch of outcomes, each only while this worker holds its lease.
    pub async fn record(&self, outcomes: &[Outcome]) -> Result<Recorded, DbError> {
        outcome::record(&self.pool, &self.worker, outcomes).await
    }

    /// One step: claim a batch, deliver it concurrently, record the outcomes.
    /// Returns how many messages were claimed.
    pub async fn run_once(&self) -> Result<usize, DbError> {
        let batch = self
            .claim(self.settings.batch_size, &self.kinds_with_capacity())
            .await?;
        let claimed = batch.len();
        let outcomes =
            futures_util::future::join_all(batch.into_iter().map(|m| self.deliver(m))).await;
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
        let rescue = client.prepare_cached(statements::RESCUE).await?;
        let expire = client.prepare_cached(statements::EXPIRE).await?;
        let mut report = Rescued::default();
        loop {
            let rows = client
                .query(&rescue, &[&self.policy.max_attempts, &MAINTENANCE_BATCH])
                .await?;
            for row in &rows {
                match row.get::<_, &str>(1) {
                    "failed" => report.failed += 1,
                    _ => report.requeued += 1,
                }
            }
            if (rows.len() as i64) < MAINTENANCE_BATCH {
                break;
            }
        }
        loop {
            let n = client.execute(&expire, &[&MAINTENANCE_BATCH]).await? as usize;
            report.expired += n;
            if (n as i64) < MAINTENANCE_BATCH {
                break;
            }
        }
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
        let client = self.pool.get().await?;
        let rows = client
            .query(
                statements::RELEASE,
                &[&self.worker, &ids, &started, &started_at],
            )
            .await?;
        Ok(rows.len())
    }
}
