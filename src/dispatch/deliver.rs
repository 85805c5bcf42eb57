//! Delivering one claimed message: plan it (`plan`: recipient, options,
//! suppressions, quiet hours, channel or fallback), send under the per-kind
//! limit with a timeout and panic isolation, and decide the outcome with the
//! retry policy.

use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::Instant;

use chrono::Utc;
use futures_util::FutureExt;
use tokio::sync::OwnedSemaphorePermit;
use tracing::Instrument;

use super::Dispatcher;
use super::outcome::{End, Outcome};
use super::retry::{Decision, Failure};
use crate::channel::{Channel, Envelope, SendError};
use crate::message::{ClaimedMessage, Status};

/// What the caller says just before a send begins.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Start {
    /// Send now.
    Go,
    /// The worker is stopping: nothing is sent and the message comes back.
    Stopping,
    /// This worker's lease has run out or was lost: nothing is sent.
    LeaseLost,
}

impl Start {
    /// The one lease check: a send may begin only while more than `margin`
    /// of the lease (ending at `deadline`, as this worker measures it) is left.
    pub fn within_lease(deadline: Instant, margin: std::time::Duration) -> Start {
        if Instant::now() + margin >= deadline {
            Start::LeaseLost
        } else {
            Start::Go
        }
    }
}

impl Dispatcher {
    /// Delivers one claimed message and decides its outcome, with the
    /// kind's send slot already taken (`None`: wait for one). Never fails:
    /// every problem becomes the outcome's error. A send whose lease has run
    /// out by the time it could begin is not made: the message goes back to
    /// the queue unsent, if it is still this worker's. (The runner, which
    /// also renews leases and stops, calls [`Dispatcher::deliver_with`].)
    pub async fn deliver(
        &self,
        message: ClaimedMessage,
        slot: Option<OwnedSemaphorePermit>,
    ) -> Outcome {
        let deadline = message.lease_deadline;
        let margin = self.lease_margin();
        let on_start = move |_| Start::within_lease(deadline, margin);
        match self.deliver_with(message, slot, on_start).await {
            Ok(outcome) => outcome,
            Err(message) => self.finish(
                &message,
                None,
                Err(SendError::transient("withdrawn before sending")),
                Utc::now(),
            ),
        }
    }

    /// Delivers with `slot` (or after waiting for one), asking `on_start`
    /// just before the provider call. If it answers `Start::Stopping`
    /// nothing is sent and the message comes back unsent; if
    /// `Start::LeaseLost`, nothing is sent and the outcome hands the
    /// message back to the queue with its attempt refunded.
    pub async fn deliver_with(
        &self,
        message: ClaimedMessage,
        slot: Option<OwnedSemaphorePermit>,
        on_start: impl FnOnce(chrono::DateTime<Utc>) -> Start + Send,
    ) -> Result<Outcome, ClaimedMessage> {
        let span = tracing::info_span!(
            "message",
            id = message.id.0,
            kind = message.kind.as_str(),
            attempt = message.attempt,
            provider = tracing::field::Empty,
        );
        self.deliver_in_span(message, slot, on_start)
            .instrument(span)
            .await
    }

    async fn deliver_in_span(
        &self,
        message: ClaimedMessage,
        slot: Option<OwnedSemaphorePermit>,
        on_start: impl FnOnce(chrono::DateTime<Utc>) -> Start + Send,
    ) -> Result<Outcome, ClaimedMessage> {
        let message = crate::digest::combine(message);
        let started_at = Utc::now();
        if let Some(outcome) = self.fall_back(&message, started_at).await {
            return Ok(outcome);
        }
        let plan = match self.plan(&message, started_at) {
            Ok(plan) => plan,
            Err(outcome) => return Ok(*outcome),
        };
        let _slot = match (slot, self.kind_limits.get(&message.kind)) {
            (Some(slot), _) => Some(slot),
            (None, Some(limit)) => limit.clone().acquire_owned().await.ok(),
            (None, None) => None,
        };
        // Checked once a send slot is ours, right before sending.
        let (channel, failover_note) = match self.admit(&message, plan.channel, started_at) {
            Ok(admitted) => admitted,
            Err(outcome) => return Ok(*outcome),
        };
        tracing::Span::current().record("provider", channel.name());
        if let Some(held) = self.caps(&message, &plan.to, started_at).await {
            return Ok(held);
        }
        let started_at = Utc::now();
        match on_start(started_at) {
            Start::Go => {}
            Start::Stopping => return Err(message),
            Start::LeaseLost => return Ok(self.lease_lost(&message, started_at)),
        }
        let envelope = Envelope {
            message,
            to: plan.to,
            locale: plan.locale,
        };
        let result = self.call(&channel, &envelope).await;
        let mut outcome = self.finish(&envelope.message, Some(channel.name()), result, started_at);
        for note in [plan.note, failover_note].into_iter().flatten() {
            outcome.note = Some(match outcome.note {
                Some(existing) => format!("{note}; {existing}"),
                None => note,
            });
        }
        Ok(outcome)
    }

    /// Calls the provider with the send timeout, a panic in the channel
    /// contained, and tells the circuit breaker how it went.
    async fn call(
        &self,
        channel: &Arc<dyn Channel>,
        envelope: &Envelope,
    ) -> Result<crate::channel::Delivery, SendError> {
        let timeout = self.settings.send_timeout;
        let send = tokio::time::timeout(timeout, channel.send(envelope));
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
        let circuit = channel.circuit(&envelope.message);
        match &result {
            Err(e) if e.class != crate::channel::ErrorClass::Permanent => {
                self.breakers.failure(&circuit)
            }
            _ => self.breakers.success(&circuit),
        }
        result
    }

    /// The lease ran out (or was lost) before the send began: nothing was
    /// sent, and the message goes back to the queue with its attempt given
    /// back, if nobody has taken it over meanwhile.
    fn lease_lost(&self, message: &ClaimedMessage, started_at: chrono::DateTime<Utc>) -> Outcome {
        tracing::warn!("the lease ran out before the send began; not sent, handed back");
        if let Some(metrics) = &self.metrics {
            metrics.lease_lost(message.kind.as_str());
        }
        handed_back(
            message,
            "the lease ran out before the send began (worker stalled); not sent",
            Utc::now(),
            started_at,
        )
    }

    /// Hands a claimed message back unsent (this process had no room for it).
    pub(super) fn unsent(&self, message: &ClaimedMessage) -> Outcome {
        let now = Utc::now();
        handed_back(
            message,
            "claimed without a free send slot; handed back unsent",
            now,
            now,
        )
    }

    /// The provider's circuit is open and there is no fallback: back to the
    /// queue until it may close, with the attempt given back.
    pub(super) fn deferred(
        &self,
        message: &ClaimedMessage,
        provider: &str,
        retry_in: std::time::Duration,
        started_at: chrono::DateTime<Utc>,
    ) -> Outcome {
        if let Some(metrics) = &self.metrics {
            metrics.deferral(message.kind.as_str(), provider);
        }
        let now = Utc::now();
        Outcome {
            id: message.id,
            attempt: message.attempt,
            provider: Some(provider.to_owned()),
            end: End::HandedBack {
                run_at: now + chrono::Duration::from_std(retry_in).unwrap_or_default(),
                why: format!(
                    "circuit open for provider {provider}: not sent, waiting {}",
                    humantime::format_duration(std::time::Duration::from_secs(
                        retry_in.as_secs().max(1)
                    ))
                ),
                deferred: true,
            },
            note: None,
            started_at,
            finished_at: now,
        }
    }

    pub(super) fn finish(
        &self,
        message: &ClaimedMessage,
        provider: Option<&str>,
        result: Result<crate::channel::Delivery, SendError>,
        started_at: chrono::DateTime<Utc>,
    ) -> Outcome {
        let finished_at = Utc::now();
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
        let (end, note) = match result {
            Ok(delivery) => {
                tracing::debug!(
                    provider_message_id =
                        delivery.provider_message_id.as_deref().unwrap_or_default(),
                    "sent"
                );
                let end = End::Sent {
                    provider_message_id: delivery.provider_message_id,
                    segments: delivery.segments,
                };
                (end, delivery.note)
            }
            Err(error) => (self.failed(message, error, finished_at), None),
        };
        Outcome {
            id: message.id,
            attempt: message.attempt,
            provider: provider.map(str::to_owned),
            end,
            note,
            started_at,
            finished_at,
        }
    }

    /// How a failed attempt ends, by the retry policy; logged with the
    /// addresses in its error masked (unmasked only at debug).
    fn failed(
        &self,
        message: &ClaimedMessage,
        error: SendError,
        now: chrono::DateTime<Utc>,
    ) -> End {
        let provider_code = error.code.clone();
        let failure = Failure {
            attempt: message.attempt,
            max_attempts: message.max_attempts,
            error: &error,
            now,
            expires_at: message.expires_at,
        };
        let (end, status) = match self.policy.decide(failure, rand::random::<f64>()) {
            Decision::Retry { run_at, .. } => (
                End::Retry {
                    run_at,
                    error: error.message,
                    provider_code,
                },
                Status::Queued,
            ),
            Decision::Fail { reason } => (
                End::Failed {
                    error: reason,
                    provider_code,
                },
                Status::Failed,
            ),
            Decision::Expire { reason } => (
                End::Expired {
                    error: reason,
                    provider_code,
                },
                Status::Expired,
            ),
        };
        let text = match &end {
            End::Retry { error, .. } | End::Failed { error, .. } | End::Expired { error, .. } => {
                error.as_str()
            }
            _ => "",
        };
        tracing::info!(
            status = status.as_str(),
            error = crate::scrub::addresses(text),
            "attempt failed"
        );
        tracing::debug!(error = text, "attempt failed (unmasked)");
        end
    }
}

/// The outcome that returns `message` to the queue at `run_at`, its
/// attempt given back: nothing was sent.
pub(super) fn handed_back(
    message: &ClaimedMessage,
    why: &str,
    run_at: chrono::DateTime<Utc>,
    started_at: chrono::DateTime<Utc>,
) -> Outcome {
    Outcome {
        id: message.id,
        attempt: message.attempt,
        provider: None,
        end: End::HandedBack {
            run_at,
            why: why.to_owned(),
            deferred: false,
        },
        note: None,
        started_at,
        finished_at: Utc::now(),
    }
}
