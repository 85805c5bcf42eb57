//! A circuit breaker per provider: after `threshold` transient failures in a
//! row the provider is left alone for `open_for`; then one probe is let
//! through, and its outcome closes or re-opens the circuit. While it is open
//! the queue waits instead of burning attempts.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

#[derive(Debug, Clone, Copy)]
enum State {
    Closed {
        failures: u32,
    },
    Open {
        until: Instant,
    },
    /// One probe is in flight.
    HalfOpen,
}

/// Whether a send may go to a provider now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admit {
    Yes,
    /// The circuit is open: try again after this long.
    No {
        retry_in: Duration,
    },
}

#[derive(Debug)]
pub struct Breakers {
    threshold: u32,
    open_for: Duration,
    states: Mutex<HashMap<String, State>>,
}

impl Breakers {
    /// `threshold` 0 disables the breakers.
    pub fn new(threshold: u32, open_for: Duration) -> Self {
        Self {
            threshold,
            open_for,
            states: Mutex::new(HashMap::new()),
        }
    }

    fn with<T>(&self, provider: &str, f: impl FnOnce(&mut State) -> T) -> T {
        let mut states = self
            .states
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let state = states
            .entry(provider.to_owned())
            .or_insert(State::Closed { failures: 0 });
        f(state)
    }

    pub fn admit(&self, provider: &str) -> Admit {
        if self.threshold == 0 {
            return Admit::Yes;
        }
        let now = Instant::now();
        self.with(provider, |state| match *state {
            State::Closed { .. } => Admit::Yes,
            State::Open { until } if now >= until => {
                *state = State::HalfOpen;
                Admit::Yes
            }
            State::Open { until } => Admit::No {
                retry_in: until - now,
            },
            State::HalfOpen => Admit::No {
                retry_in: self.open_for.min(Duration::from_secs(1)),
            },
        })
    }

    /// The provider answered (accepted, or refused for a reason of the message's own).
    pub fn success(&self, provider: &str) {
        if self.threshold > 0 {
            self.with(provider, |state| *state = State::Closed { failures: 0 });
        }
    }

    /// The provider failed transiently (5xx, 429, timeout, connection error).
    pub fn failure(&self, provider: &str) {
        if self.threshold == 0 {
            return;
        }
        let open_for = self.open_for;
        let threshold = self.threshold;
        self.with(provider, |state| {
            *state = match *state {
                State::Closed { failures } if failures + 1 < threshold => State::Closed { failures: failures + 1 },
                _ => {
                    tracing::warn!(provider, open_for = ?open_for, "circuit open: provider keeps failing");
                    State::Open { until: Instant::now() + open_for }
                }
            };
        });
    }

    /// Whether the provider's circuit is open now.
    pub fn is_open(&self, provider: &str) -> bool {
        matches!(self.admit_peek(provider), Admit::No { .. })
    }

    fn admit_peek(&self, provider: &str) -> Admit {
        if self.threshold == 0 {
            return Admit::Yes;
        }
        let now = Instant::now();
        self.with(provider, |state| match *state {
            State::Open { until } if now < until => Admit::No {
                retry_in: until - now,
            },
            _ => Admit::Yes,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn opens_after_the_threshold_and_probes_once() {
        let b = Breakers::new(3, Duration::from_millis(50));
        for _ in 0..2 {
            assert_eq!(b.admit("p"), Admit::Yes);
            b.failure("p");
        }
        assert_eq!(b.admit("p"), Admit::Yes);
        b.failure("p");
        assert!(matches!(b.admit("p"), Admit::No { .. }));
        assert_eq!(b.admit("other"), Admit::Yes, "per provider");
        std::thread::sleep(Duration::from_millis(60));
        assert_eq!(b.admit("p"), Admit::Yes, "the probe");
        assert!(
            matches!(b.admit("p"), Admit::No { .. }),
            "one probe at a time"
        );
        b.failure("p");
        assert!(
            matches!(b.admit("p"), Admit::No { .. }),
            "a failed probe re-opens"
        );
        std::thread::sleep(Duration::from_millis(60));
        assert_eq!(b.admit("p"), Admit::Yes);
        b.success("p");
        assert_eq!(b.admit("p"), Admit::Yes);
        assert_eq!(b.admit("p"), Admit::Yes, "closed again");
        let off = Breakers::new(0, Duration::from_secs(1));
        for _ in 0..10 {
            off.failure("p");
        }
        assert_eq!(off.admit("p"), Admit::Yes);
    }
}
