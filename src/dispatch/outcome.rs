//! The result of one delivery attempt, as it is written to `messages` and
//! `attempts`, and the batch writer that records many at once.

use chrono::{DateTime, Utc};
use deadpool_postgres::Pool;

use crate::db::{DbError, statements};
use crate::message::{MessageId, Status};

/// The `attempts.outcome` of an attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AttemptResult {
    Sent,
    Retry,
    Failed,
}

impl AttemptResult {
    pub fn as_str(self) -> &'static str {
        match self {
            AttemptResult::Sent => "sent",
            AttemptResult::Retry => "retry",
            AttemptResult::Failed => "failed",
        }
    }
}

/// One finished attempt, waiting to be recorded.
#[derive(Debug, Clone)]
pub struct Outcome {
    pub id: MessageId,
    pub attempt: i32,
    /// The message's next status: sent, queued (retry), failed or expired.
    pub status: Status,
    /// When a retry is due; `None` keeps the row's `run_at`.
    pub run_at: Option<DateTime<Utc>>,
    pub result: AttemptResult,
    pub provider: Option<String>,
    pub provider_code: Option<String>,
    pub error: Option<String>,
    pub provider_message_id: Option<String>,
    /// Something an auditor should know about this attempt (a fallback taken…).
    pub note: Option<String>,
    /// SMS segments billed.
    pub segments: Option<i32>,
    /// Nothing was sent (the provider's circuit was open, or the lease ran
    /// out before the send began): the attempt is given back and no attempt
    /// row is written.
    pub refund: bool,
    /// Refunded because the provider's circuit was open: counted in the
    /// message's `deferrals`.
    pub deferred: bool,
    pub started_at: DateTime<Utc>,
    pub finished_at: DateTime<Utc>,
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
    let ids: Vec<i64> = outcomes.iter().map(|o| o.id.0).collect();
    let attempts: Vec<i32> = outcomes.iter().map(|o| o.attempt).collect();
    let statuses: Vec<&str> = outcomes.iter().map(|o| o.status.as_str()).collect();
    let run_ats: Vec<Option<DateTime<Utc>>> = outcomes.iter().map(|o| o.run_at).collect();
    let results: Vec<&str> = outcomes.iter().map(|o| o.result.as_str()).collect();
    let providers: Vec<Option<&str>> = outcomes.iter().map(|o| o.provider.as_deref()).collect();
    let codes: Vec<Option<&str>> = outcomes
        .iter()
        .map(|o| o.provider_code.as_deref())
        .collect();
    let errors: Vec<Option<&str>> = outcomes.iter().map(|o| o.error.as_deref()).collect();
    let provider_ids: Vec<Option<&str>> = outcomes
        .iter()
        .map(|o| o.provider_message_id.as_deref())
        .collect();
    let started: Vec<DateTime<Utc>> = outcomes.iter().map(|o| o.started_at).collect();
    let finished: Vec<DateTime<Utc>> = outcomes.iter().map(|o| o.finished_at).collect();
    let notes: Vec<Option<&str>> = outcomes.iter().map(|o| o.note.as_deref()).collect();
    let segments: Vec<Option<i32>> = outcomes.iter().map(|o| o.segments).collect();
    let refunds: Vec<bool> = outcomes.iter().map(|o| o.refund).collect();
    let deferred: Vec<bool> = outcomes.iter().map(|o| o.deferred).collect();

    let client = pool.get().await?;
    let statement = client.prepare_cached(statements::RECORD).await?;
    let rows = client
        .query(
            &statement,
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
    let written = outcomes.iter().filter(|o| !o.refund).count();
    Ok(Recorded {
        applied,
        lost: written.saturating_sub(applied),
    })
}
