//! The process's file-descriptor budget: at start the soft `RLIMIT_NOFILE`
//! is raised to the hard limit (as Go's runtime does), and the listeners'
//! connection caps are lowered, with a warning, when they and the
//! connections Outpost opens itself (database pools, LISTEN, the metrics
//! refresh, SMTP pools, in-flight provider calls) would not fit in it. A
//! flood on one listener then runs into its cap, never into `EMFILE` for
//! everything else.

use crate::config::Config;

/// Descriptors kept for what is not counted one by one: standard streams,
/// the runtime's epoll and event descriptors, log and template files, DNS.
pub const SPARE: u64 = 64;

/// The connection caps of the three listeners (0 where one is off).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Caps {
    pub http: usize,
    pub console: usize,
    pub ops: usize,
}

impl Caps {
    /// The caps as configured.
    pub fn configured(config: &Config) -> Self {
        Self {
            http: if config.http.enabled {
                config.http.max_connections
            } else {
                0
            },
            console: if config.console.enabled {
                config.console.max_connections
            } else {
                0
            },
            ops: if config.ops.enabled {
                config.ops.max_connections
            } else {
                0
            },
        }
    }

    fn total(self) -> u64 {
        (self.http + self.console + self.ops) as u64
    }
}

/// Descriptors Outpost opens itself besides its listeners' connections.
pub fn reserved(config: &Config) -> u64 {
    let database = config.pool_size as u64 // the dispatcher's pool
        + 4 // the console's pool
        + crate::pools::INBOX_POOL as u64
        + 2; // LISTEN and the metrics refresh
    let smtp = u64::from(config.smtp.pool_size);
    let sends = config.dispatch.concurrency as u64;
    SPARE + 3 + database + smtp + sends
}

/// The caps that fit in `limit` descriptors: `caps` unchanged when they do,
/// else each lowered in proportion (never below 1 for a listener that is on).
pub fn fit(caps: Caps, reserved: u64, limit: u64) -> Caps {
    let available = limit.saturating_sub(reserved);
    let total = caps.total();
    if total <= available {
        return caps;
    }
    let share = |cap: usize| -> usize {
        if cap == 0 {
            return 0;
        }
        let scaled = (cap as u128 * u128::from(available) / u128::from(total)) as usize;
        scaled.max(1)
    };
    Caps {
        http: share(caps.http),
        console: share(caps.console),
        ops: share(caps.ops),
    }
}

/// Raises the soft descriptor limit as far as the hard one allows and
/// returns the caps that fit in it, warning about any it lowered.
pub fn budget(config: &Config) -> Caps {
    let configured = Caps::configured(config);
    let limit = match rlimit::increase_nofile_limit(u64::MAX) {
        Ok(limit) => limit,
        Err(e) => {
            tracing::warn!(error = %e, "cannot read or raise the file descriptor limit; connection caps unchecked");
            return configured;
        }
    };
    let reserved = reserved(config);
    let caps = fit(configured, reserved, limit);
    if caps == configured {
        tracing::debug!(
            limit,
            reserved,
            "connection caps fit the file descriptor limit"
        );
    } else {
        tracing::warn!(
            limit,
            reserved,
            http_max_connections = caps.http,
            console_max_connections = caps.console,
            ops_max_connections = caps.ops,
            "the listeners' connection caps do not fit the file descriptor limit (LimitNOFILE); \
             lowered for this run: raise the hard limit or lower http.max_connections, \
             console.max_connections and ops.max_connections"
        );
    }
    caps
}

#[cfg(test)]
mod tests {
    use super::{Caps, fit};

    const CAPS: Caps = Caps {
        http: 1024,
        console: 256,
        ops: 32,
    };

    #[test]
    fn caps_that_fit_are_kept() {
        assert_eq!(fit(CAPS, 200, 20_000), CAPS);
        assert_eq!(fit(CAPS, 200, 1512), CAPS);
    }

    #[test]
    fn caps_that_do_not_fit_are_lowered_in_proportion_within_the_limit() {
        let caps = fit(CAPS, 200, 1024);
        assert!(caps.total() <= 1024 - 200, "{caps:?}");
        assert_eq!(caps.http, 1024 * 824 / 1312);
        assert_eq!(caps.console, 256 * 824 / 1312);
        assert_eq!(caps.ops, 32 * 824 / 1312);
    }

    #[test]
    fn a_listener_that_is_on_keeps_at_least_one_and_one_that_is_off_none() {
        let caps = fit(
            Caps {
                http: 1024,
                console: 0,
                ops: 32,
            },
            5000,
            1024,
        );
        assert_eq!(
            caps,
            Caps {
                http: 1,
                console: 0,
                ops: 1
            }
        );
    }
}
