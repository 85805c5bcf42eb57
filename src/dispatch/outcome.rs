//! The result of one delivery attempt, as it is written to `messages` and
//! `attempts`, and the batch writer that records many at once.

use chrono::{DateTime, Utc};
use deadpool_postgres::Pool;

use crate::db::{DbError, statements};
use crate::message::{AttemptResult, MessageId, Status};

/// How an attempt ended; each end carries only what it can have.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum End {
    /// The provider took the message.
    Sent {
        provider_message_id: Option<String>,
        /// SMS segments billed.
        segments: Option<i32>,
    },
    /// A transient failure: tried again at `run_at`.
    Retry {
        run_at: DateTime<Utc>,
        error: String,
        provider_code: Option<String>,
    },
    /// Failed for good.
    Failed {
        error: String,
        provider_code: Option<String>,
    },
    /// Its `expires_at` passed before it could be sent.
    Expired {
        error: String,
        provider_code: Option<String>,
    },
    /// Not sent: every recipient suppressed, or the recipient's preference.
    Suppressed { error: String },
    /// Nothing was sent (no free slot, the lease ran out before the send
    /// began, quiet hours, or the provider's circuit open: `deferred`): back
    /// to the queue at `run_at` with the attempt given back, and no attempt
    /// row written.
    HandedBack {
        run_at: DateTime<Utc>,
        why: String,
        deferred: bool,
    },
}

/// One finished attempt, waiting to be recorded.
#[derive(Debug, Clone)]
pub struct Outcome {
    pub id: MessageId,
    pub attempt: i32,
    pub provider: Option<String>,
    pub end: End,
    /// Something an auditor should know about this attempt (a fallback taken…).
    pub note: Option<String>,
    pub started_at: DateTime<Utc>,
    pub finished_at: DateTime<Utc>,
}

/// An outcome as the record statement's columns: the one place an [`End`]
/// becomes them.
struct Columns<'a> {
    status: Status,
    run_at: Option<DateTime<Utc>>,
    result: AttemptResult,
    provider_code: Option<&'a str>,
    error: Option<&'a str>,
    provider_message_id: Option<&'a str>,
    segments: Option<i32>,
    refund: bool,
    deferred: bool,
}

impl Outcome {
    /// The same outcome, the message suppressed rather than failed.
    pub fn suppressed(mut self) -> Self {
        if let End::Failed { error, .. } = &self.end {
            self.end = End::Suppressed {
                error: error.clone(),
            };
        }
        self
    }

    fn columns(&self) -> Columns<'_> {
        let none = Columns {
            status: Status::Sent,
            run_at: None,
            result: AttemptResult::Sent,
            provider_code: None,
            error: None,
            provider_message_id: None,
            segments: None,
            refund: false,
            deferred: false,
        };
        match &self.end {
            End::Sent {
                provider_message_id,
                segments,
            } => Columns {
                provider_message_id: provider_message_id.as_deref(),
                segments: *segments,
                ..none
            },
            End::Retry {
                run_at,
                error,
                provider_code,
            } => Columns {
                status: Status::Queued,
                run_at: Some(*run_at),
                result: AttemptResult::Retry,
                provider_code: provider_code.as_deref(),
                error: Some(error),
                ..none
            },
            End::Failed {
                error,
                provider_code,
            } => Columns {
                status: Status::Failed,
                result: AttemptResult::Failed,
                provider_code: provider_code.as_deref(),
                error: Some(error),
                ..none
            },
            End::Expired {
                error,
                provider_code,
            } => Columns {
                status: Status::Expired,
                result: AttemptResult::Failed,
                provider_code: provider_code.as_deref(),
                error: Some(error),
                ..none
            },
            End::Suppressed { error } => Columns {
                status: Status::Suppressed,
                result: AttemptResult::Failed,
                error: Some(error),
                ..none
            },
            End::HandedBack {
                run_at,
                why,
                deferred,
            } => Columns {
                status: Status::Queued,
                run_at: Some(*run_at),
                result: AttemptResult::Retry,
                error: Some(why),
                refund: true,
                deferred: *deferred,
                ..none
            },
        }
    }
}

/// What a batch write did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Recorded {
    /// Outcomes applied to their message.
    pub applied: usize,
    /// Outcomes whose lease this worker had lost: only their attempt row was kept.
    pub lost: usize,
}

/// Writes `outcomes` in one statement, each applied only while `worker`
/// still holds that message's lease.
pub async fn record(pool: &Pool, worker: &str, outcomes: &[Outcome]) -> Result<Recorded, DbError> {
    if outcomes.is_empty() {
        return Ok(Recorded::default());
    }
    let columns: Vec<Columns<'_>> = outcomes.iter().map(Outcome::columns).collect();
    let ids: Vec<i64> = outcomes.iter().map(|o| o.id.0).collect();
    let attempts: Vec<i32> = outcomes.iter().map(|o| o.attempt).collect();
    let statuses: Vec<Status> = columns.iter().map(|c| c.status).collect();
    let run_ats: Vec<Option<DateTime<Utc>>> = columns.iter().map(|c| c.run_at).collect();
    let results: Vec<&str> = columns.iter().map(|c| c.result.as_str()).collect();
    let providers: Vec<Option<&str>> = outcomes.iter().map(|o| o.provider.as_deref()).collect();
    let codes: Vec<Option<&str>> = columns.iter().map(|c| c.provider_code).collect();
    let errors: Vec<Option<&str>> = columns.iter().map(|c| c.error).collect();
    let provider_ids: Vec<Option<&str>> = columns.iter().map(|c| c.provider_message_id).collect();
    let started: Vec<DateTime<Utc>> = outcomes.iter().map(|o| o.started_at).collect();
    let finished: Vec<DateTime<Utc>> = outcomes.iter().map(|o| o.finished_at).collect();
    let notes: Vec<Option<&str>> = outcomes.iter().map(|o| o.note.as_deref()).collect();
    let segments: Vec<Option<i32>> = columns.iter().map(|c| c.segments).collect();
    let refunds: Vec<bool> = columns.iter().map(|c| c.refund).collect();
    let deferred: Vec<bool> = columns.iter().map(|c| c.deferred).collect();

    let client = pool.get().await?;
    let rows = crate::db::pooled::query_cached(
        &client,
        statements::RECORD,
        &[
            &worker,
            &ids,
            &attempts,
            &statuses,
            &run_ats,
            &results,
            &providers,
            &codes,
            &errors,
            &provider_ids,
            &started,
            &finished,
            &notes,
            &segments,
            &refunds,
            &deferred,
        ],
    )
    .await?;
    let applied = rows.iter().filter(|r| r.get::<_, bool>(1)).count();
    let written = columns.iter().filter(|c| !c.refund).count();
    Ok(Recorded {
        applied,
        lost: written.saturating_sub(applied),
    })
}
