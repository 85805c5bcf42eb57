//! The retry policy: a pure function from a failed attempt to what happens
//! next. Transient errors back off exponentially with full jitter, capped;
//! rate limits wait for the provider's Retry-After; permanent errors and spent
//! budgets fail the message.

use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::channel::{ErrorClass, SendError};
use crate::config::RetrySettings;

/// The longest wait a provider's Retry-After can ask for.
const MAX_RETRY_AFTER: Duration = Duration::from_secs(7 * 24 * 3600);

/// The policy of `[retry]`'s settings (base, cap, the default budget).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    pub settings: RetrySettings,
}

impl From<RetrySettings> for RetryPolicy {
    fn from(settings: RetrySettings) -> Self {
        Self { settings }
    }
}

/// The facts about one failed attempt that the decision depends on.
#[derive(Debug, Clone, Copy)]
pub struct Failure<'a> {
    /// 1 for the first attempt.
    pub attempt: i32,
    /// The row's own budget, if it has one.
    pub max_attempts: Option<i32>,
    pub error: &'a SendError,
    pub now: DateTime<Utc>,
    pub expires_at: Option<DateTime<Utc>>,
}

/// What to do with a message after a failed attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// Back to `queued`, due at `run_at`.
    Retry {
        run_at: DateTime<Utc>,
        delay: Duration,
    },
    /// `failed`, with this `last_error`.
    Fail { reason: String },
    /// `expired`: the next try would fall after `expires_at`.
    Expire { reason: String },
}

impl RetryPolicy {
    /// The backoff before retry number `attempt` (1-based), before jitter:
    /// `min(cap, base × 2^(attempt−1))`.
    pub fn ceiling(&self, attempt: i32) -> Duration {
        let exponent = attempt.saturating_sub(1).clamp(0, 62) as u32;
        let factor = 1u64.checked_shl(exponent).unwrap_or(u64::MAX);
        let millis = (self.settings.base.as_millis() as u64).saturating_mul(factor);
        Duration::from_millis(millis).min(self.settings.cap)
    }

    /// Full jitter: a delay drawn uniformly from `[0, ceiling)`; `jitter` is the
    /// draw in `[0, 1)`, passed in so that the function stays pure.
    pub fn backoff(&self, attempt: i32, jitter: f64) -> Duration {
        self.ceiling(attempt).mul_f64(jitter.clamp(0.0, 1.0))
    }

    /// Decides what follows `failure`.
    pub fn decide(&self, failure: Failure<'_>, jitter: f64) -> Decision {
        let error = failure.error;
        let budget = failure
            .max_attempts
            .unwrap_or(self.settings.max_attempts)
            .max(1);
        let delay = match error.class {
            ErrorClass::Permanent => {
                return Decision::Fail {
                    reason: error.message.clone(),
                };
            }
            _ if failure.attempt >= budget => {
                return Decision::Fail {
                    reason: format!(
                        "gave up after {} attempt{}: {}",
                        failure.attempt,
                        if failure.attempt == 1 { "" } else { "s" },
                        error.message
                    ),
                };
            }
            // A provider's Retry-After is believed up to a week.
            ErrorClass::RateLimited {
                retry_after: Some(after),
            } => after.min(MAX_RETRY_AFTER),
            ErrorClass::RateLimited { retry_after: None } | ErrorClass::Transient => {
                self.backoff(failure.attempt, jitter)
            }
        };
        let run_at = chrono::Duration::from_std(delay)
            .ok()
            .and_then(|d| failure.now.checked_add_signed(d))
            .unwrap_or(chrono::DateTime::<chrono::Utc>::MAX_UTC);
        match failure.expires_at {
            Some(expires_at) if run_at >= expires_at => Decision::Expire {
                reason: format!(
                    "expired: the next attempt would be after expires_at ({}); last error: {}",
                    expires_at.to_rfc3339(),
                    error.message
                ),
            },
            _ => Decision::Retry { run_at, delay },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy() -> RetryPolicy {
        RetryPolicy::from(RetrySettings {
            base: Duration::from_secs(5),
            cap: Duration::from_secs(60),
            max_attempts: 5,
        })
    }

    fn failure(attempt: i32, error: &SendError) -> Failure<'_> {
        Failure {
            attempt,
            max_attempts: None,
            error,
            now: DateTime::from_timestamp(1_700_000_000, 0).unwrap(),
            expires_at: None,
        }
    }

    #[test]
    fn ceiling_doubles_then_caps() {
        let p = policy();
        let secs: Vec<u64> = (1..=6).map(|a| p.ceiling(a).as_secs()).collect();
        assert_eq!(secs, vec![5, 10, 20, 40, 60, 60]);
        assert_eq!(p.ceiling(10_000), Duration::from_secs(60));
    }

    #[test]
    fn full_jitter_spans_zero_to_ceiling() {
        let p = policy();
        assert_eq!(p.backoff(3, 0.0), Duration::ZERO);
        assert_eq!(p.backoff(3, 0.5), Duration::from_secs(10));
        assert!(p.backoff(3, 0.999_999) < Duration::from_secs(20));
    }

    #[test]
    fn transient_errors_are_retried_with_backoff() {
        let err = SendError::transient("connection reset");
        let f = failure(2, &err);
        match policy().decide(f, 0.5) {
            Decision::Retry { run_at, delay } => {
                assert_eq!(delay, Duration::from_secs(5));
                assert_eq!((run_at - f.now).num_seconds(), 5);
            }
            other => panic!("expected a retry, got {other:?}"),
        }
    }

    #[test]
    fn retry_after_is_honoured_even_past_the_cap() {
        let err = SendError::rate_limited(Some(Duration::from_secs(120)), "429");
        let Decision::Retry { delay, .. } = policy().decide(failure(1, &err), 0.0) else {
            panic!("expected a retry");
        };
        assert_eq!(delay, Duration::from_secs(120));

        let err = SendError::rate_limited(None, "429 without Retry-After");
        let Decision::Retry { delay, .. } = policy().decide(failure(1, &err), 0.5) else {
            panic!("expected a retry");
        };
        assert_eq!(delay, Duration::from_millis(2500));
    }

    #[test]
    fn a_retry_after_of_centuries_is_believed_for_a_week_and_never_panics() {
        let err = SendError::rate_limited(Some(Duration::from_secs(u64::MAX)), "429");
        let f = failure(1, &err);
        let Decision::Retry { delay, run_at } = policy().decide(f, 0.0) else {
            panic!("expected a retry");
        };
        assert_eq!(delay, Duration::from_secs(7 * 24 * 3600));
        assert_eq!((run_at - f.now).num_days(), 7);
    }

    #[test]
    fn permanent_errors_fail_at_once() {
        let err = SendError::permanent("550 no such user");
        assert_eq!(
            policy().decide(failure(1, &err), 0.5),
            Decision::Fail {
                reason: "550 no such user".into()
            }
        );
    }

    #[test]
    fn a_spent_budget_fails_and_the_row_budget_wins() {
        let err = SendError::transient("timeout");
        assert_eq!(
            policy().decide(failure(5, &err), 0.5),
            Decision::Fail {
                reason: "gave up after 5 attempts: timeout".into()
            }
        );
        let mut f = failure(1, &err);
        f.max_attempts = Some(1);
        assert_eq!(
            policy().decide(f, 0.5),
            Decision::Fail {
                reason: "gave up after 1 attempt: timeout".into()
            }
        );
        f.max_attempts = Some(9);
        f.attempt = 8;
        assert!(matches!(policy().decide(f, 0.5), Decision::Retry { .. }));
    }

    #[test]
    fn a_retry_past_expires_at_expires_instead() {
        let err = SendError::transient("timeout");
        let mut f = failure(1, &err);
        f.expires_at = Some(f.now + chrono::Duration::seconds(1));
        assert!(matches!(policy().decide(f, 0.5), Decision::Expire { .. }));
        f.expires_at = Some(f.now + chrono::Duration::seconds(10));
        assert!(matches!(policy().decide(f, 0.5), Decision::Retry { .. }));
    }
}
