//! A circuit breaker per provider, judged on the failure *rate*: among the
//! calls of a sliding time window (kept as one-second buckets), once there are
//! at least `min_calls` and the share of transient failures reaches
//! `failure_rate`, the provider is left alone for `open_for`; then one probe
//! is let through, and its outcome closes or re-opens the circuit. While it is
//! open the queue waits instead of burning attempts. Judging a rate over many
//! calls, rather than failures in a row in completion order, keeps a provider
//! that fails at random some of the time from tripping it.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::config::BreakerSettings;

/// A provider's circuit as the console and the heartbeat report it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Circuit {
    /// Calls go through.
    Closed,
    /// Calls wait `retry_in` before a probe.
    Open { retry_in: Duration },
    /// One probe call is, or may be, in flight.
    HalfOpen,
}

impl Circuit {
    pub fn as_str(self) -> &'static str {
        match self {
            Circuit::Closed => "closed",
            Circuit::Open { .. } => "open",
            Circuit::HalfOpen => "half-open",
        }
    }

    /// How long until a probe, while open.
    pub fn retry_in(self) -> Option<Duration> {
        match self {
            Circuit::Open { retry_in } => Some(retry_in),
            _ => None,
        }
    }
}

/// Calls of one second of the window.
#[derive(Debug, Clone, Copy)]
struct Bucket {
    second: u64,
    calls: u32,
    failures: u32,
}

#[derive(Debug)]
enum State {
    Closed {
        buckets: VecDeque<Bucket>,
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
    settings: BreakerSettings,
    epoch: Instant,
    states: Mutex<HashMap<String, State>>,
}

impl Breakers {
    /// `settings.min_calls` 0 disables the breakers.
    pub fn new(settings: BreakerSettings) -> Self {
        Self {
            settings,
            epoch: Instant::now(),
            states: Mutex::new(HashMap::new()),
        }
    }

    fn enabled(&self) -> bool {
        self.settings.min_calls > 0
    }

    fn with<T>(&self, provider: &str, f: impl FnOnce(&mut State) -> T) -> T {
        let mut states = self
            .states
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let state = states
            .entry(provider.to_owned())
            .or_insert_with(|| State::Closed {
                buckets: VecDeque::new(),
            });
        f(state)
    }

    pub fn admit(&self, provider: &str) -> Admit {
        if !self.enabled() {
            return Admit::Yes;
        }
        let now = Instant::now();
        let probe_wait = self.settings.open_for.min(Duration::from_secs(1));
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
                retry_in: probe_wait,
            },
        })
    }

    /// Every provider's circuit now, by provider name.
    pub fn snapshot(&self) -> Vec<(String, Circuit)> {
        let now = Instant::now();
        let states = self
            .states
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let mut out: Vec<_> = states
            .iter()
            .map(|(provider, state)| match state {
                State::Closed { .. } => (provider.clone(), Circuit::Closed),
                State::Open { until } if *until > now => (
                    provider.clone(),
                    Circuit::Open {
                        retry_in: *until - now,
                    },
                ),
                State::Open { .. } | State::HalfOpen => (provider.clone(), Circuit::HalfOpen),
            })
            .collect();
        out.sort();
        out
    }

    /// The provider answered (accepted, or refused for a reason of the message's own).
    pub fn success(&self, provider: &str) {
        self.outcome(provider, false);
    }

    /// The provider failed transiently (5xx, 429, timeout, connection error).
    pub fn failure(&self, provider: &str) {
        self.outcome(provider, true);
    }

    fn outcome(&self, provider: &str, failed: bool) {
        if !self.enabled() {
            return;
        }
        let now = Instant::now();
        let second = now.duration_since(self.epoch).as_secs();
        let window = self.settings.window.as_secs().max(1);
        let BreakerSettings {
            min_calls,
            failure_rate,
            open_for,
            ..
        } = self.settings;
        self.with(provider, |state| {
            let open = match state {
                // The probe decides.
                State::HalfOpen => failed,
                // A call that began before the circuit opened: already judged.
                State::Open { .. } => return,
                State::Closed { buckets } => {
                    while buckets
                        .front()
                        .is_some_and(|b| b.second + window <= second)
                    {
                        buckets.pop_front();
                    }
                    match buckets.back_mut() {
                        Some(b) if b.second == second => {
                            b.calls += 1;
                            b.failures += u32::from(failed);
                        }
                        _ => buckets.push_back(Bucket {
                            second,
                            calls: 1,
                            failures: u32::from(failed),
                        }),
                    }
                    let (calls, failures) = buckets
                        .iter()
                        .fold((0u32, 0u32), |(c, f), b| (c + b.calls, f + b.failures));
                    failed
                        && calls >= min_calls
                        && f64::from(failures) >= failure_rate * f64::from(calls)
                }
            };
            *state = if open {
                tracing::warn!(provider, open_for = ?open_for, "circuit open: provider keeps failing");
                State::Open {
                    until: now + open_for,
                }
            } else if matches!(state, State::HalfOpen) {
                State::Closed {
                    buckets: VecDeque::new(),
                }
            } else {
                return;
            };
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn breakers(min_calls: u32, failure_rate: f64, open_for: Duration) -> Breakers {
        Breakers::new(BreakerSettings {
            min_calls,
            failure_rate,
            window: Duration::from_secs(60),
            open_for,
        })
    }

    #[test]
    fn opens_at_the_failure_rate_and_probes_once() {
        let b = breakers(4, 0.75, Duration::from_millis(50));
        // Three failures of three calls: below the minimum number of calls.
        for _ in 0..3 {
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
        b.failure("p");
        assert_eq!(
            b.admit("p"),
            Admit::Yes,
            "closed again, with a fresh window"
        );
    }

    #[test]
    fn alternating_failures_below_the_rate_never_open() {
        let b = breakers(4, 0.75, Duration::from_secs(60));
        for _ in 0..1000 {
            b.failure("p");
            b.failure("p");
            b.success("p");
            b.success("p");
        }
        assert_eq!(b.admit("p"), Admit::Yes);
    }

    #[test]
    fn the_snapshot_names_each_circuit() {
        let b = breakers(2, 0.5, Duration::from_millis(50));
        b.success("ok");
        b.failure("bad");
        b.failure("bad");
        let snapshot = b.snapshot();
        assert_eq!(snapshot[1], ("ok".to_owned(), Circuit::Closed));
        let (name, open) = &snapshot[0];
        assert_eq!((name.as_str(), open.as_str()), ("bad", "open"));
        assert!(
            open.retry_in()
                .is_some_and(|d| d <= Duration::from_millis(50))
        );
        std::thread::sleep(Duration::from_millis(60));
        assert_eq!(b.snapshot()[0].1, Circuit::HalfOpen);
        assert_eq!(Circuit::HalfOpen.as_str(), "half-open");
        assert_eq!(Circuit::Closed.retry_in(), None);
    }

    #[test]
    fn min_calls_zero_disables_it() {
        let off = breakers(0, 0.5, Duration::from_secs(1));
        for _ in 0..10 {
            off.failure("p");
        }
        assert_eq!(off.admit("p"), Admit::Yes);
    }
}
