//! The claim loop's heartbeat: readiness checks read it, and each beat pings
//! systemd's watchdog when one is configured.

use std::sync::atomic::{AtomicI64, Ordering};

use chrono::Utc;

/// When the claim loop last went round, for readiness checks. Each beat also
/// pings systemd's watchdog when it is enabled, so a stuck claim loop stops
/// the pings and systemd restarts the service.
#[derive(Debug, Default)]
pub struct Heartbeat {
    last_millis: AtomicI64,
    /// systemd's WatchdogSec in ms; 0 when there is no watchdog.
    watchdog_millis: AtomicI64,
    last_ping_millis: AtomicI64,
}

impl Heartbeat {
    pub fn beat(&self) {
        let now = Utc::now().timestamp_millis();
        self.last_millis.store(now, Ordering::Relaxed);
        let watchdog = self.watchdog_millis.load(Ordering::Relaxed);
        // Ping at a third of the interval; systemd asks for half or less.
        if watchdog > 0 && now - self.last_ping_millis.load(Ordering::Relaxed) >= watchdog / 3 {
            self.last_ping_millis.store(now, Ordering::Relaxed);
            if let Err(e) = sd_notify::notify(&[sd_notify::NotifyState::Watchdog]) {
                tracing::warn!(error = %e, "systemd watchdog ping failed");
            }
        }
    }

    /// Pings systemd's watchdog from now on, every `interval / 3` at most.
    pub fn enable_watchdog(&self, interval: std::time::Duration) {
        let millis = i64::try_from(interval.as_millis()).unwrap_or(i64::MAX);
        self.watchdog_millis.store(millis, Ordering::Relaxed);
    }

    /// Time since the last beat; `None` if there was none.
    pub fn age(&self) -> Option<std::time::Duration> {
        match self.last_millis.load(Ordering::Relaxed) {
            0 => None,
            last => Some(std::time::Duration::from_millis(
                (Utc::now().timestamp_millis() - last).max(0) as u64,
            )),
        }
    }
}
