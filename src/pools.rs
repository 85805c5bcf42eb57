//! The pool policy: every pool the daemon opens, its size and its session
//! settings, decided here from the configuration and nowhere else; and what
//! goes past a transaction pooler (`[database] pooler`, `listen_url`).

use deadpool_postgres::Pool;

use crate::config::{Config, Pooler};
use crate::db::{self, DbError};

/// Behind a transaction pooler, switches this process to statements that
/// need no session (`db::pooled`). Call before any pool or connection.
pub fn prepare(config: &Config) -> Result<(), DbError> {
    match config.pooler {
        Pooler::None => Ok(()),
        Pooler::Transaction => db::pooled::enable(&config.database_url),
    }
}

/// The URL that reaches PostgreSQL itself, for what needs a session (LISTEN,
/// the queue gauges' settings): `database.url` without a pooler,
/// `database.listen_url` behind one, `None` when that is not set.
pub fn direct_url(config: &Config) -> Option<&str> {
    match config.pooler {
        Pooler::None => Some(&config.database_url),
        Pooler::Transaction => config.listen_url.as_deref(),
    }
}

/// What `outpost run` says at start about the pooler: one sentence, naming
/// the setting; `None` without a pooler.
pub fn pooler_notice(config: &Config) -> Option<String> {
    if config.pooler == Pooler::None {
        return None;
    }
    let jit = "console.statement_timeout and jit = off are not sent through it \
               (set them on the daemon's role: ALTER ROLE … SET)";
    Some(match direct_url(config) {
        Some(_) => format!(
            "database.pooler is \"transaction\": claims, outcomes and housekeeping go through \
             database.url, LISTEN and the queue gauges through database.listen_url; {jit}"
        ),
        None => format!(
            "database.pooler is \"transaction\" and database.listen_url is not set, so there is \
             no LISTEN past the pooler: the dispatcher polls every {} (dispatch.poll_interval); \
             {jit}",
            humantime::format_duration(config.dispatch.poll_interval)
        ),
    })
}

/// What a pool serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    /// Claims, outcomes, the rescuer and housekeeping:
    /// `database.pool_size` connections.
    Dispatch,
    /// The channels that read or write the database while sending (SMTP
    /// servers and push apps kept in it, in-app chat): a pool of their own
    /// of `database.pool_size`, so that sends never wait behind a claim.
    Providers,
    /// The console's pages: `console.pool_size` connections, each with
    /// `console.statement_timeout`.
    Console,
    /// The real-time inbox's streams and JSON endpoints: [`INBOX_POOL`]
    /// connections, each with [`INBOX_STATEMENT_TIMEOUT`].
    Inbox,
}

/// Connections of the inbox's pool: its statements are short, and a burst
/// of streams opening waits for them rather than for the dispatcher's.
pub const INBOX_POOL: usize = 4;
/// The longest an inbox statement may run.
pub const INBOX_STATEMENT_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);

impl Purpose {
    /// Connections the pool for this purpose holds at most.
    pub fn size(self, config: &Config) -> usize {
        match self {
            Purpose::Dispatch | Purpose::Providers => config.pool_size,
            Purpose::Console => config.console.pool_size,
            Purpose::Inbox => INBOX_POOL,
        }
    }
}

/// Opens the pool for `purpose` (connections are made as they are needed).
pub fn open(config: &Config, purpose: Purpose) -> Result<Pool, DbError> {
    let size = purpose.size(config);
    match purpose {
        Purpose::Dispatch | Purpose::Providers => db::pool(&config.database_url, size),
        Purpose::Console => db::pool_with_statement_timeout(
            &config.database_url,
            size,
            config.console.statement_timeout,
        ),
        Purpose::Inbox => {
            db::pool_with_statement_timeout(&config.database_url, size, INBOX_STATEMENT_TIMEOUT)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_come_from_the_configuration() {
        let mut config = Config::load(&crate::config::Sources::default()).unwrap();
        config.pool_size = 13;
        config.console.pool_size = 3;
        assert_eq!(Purpose::Dispatch.size(&config), 13);
        assert_eq!(Purpose::Providers.size(&config), 13);
        assert_eq!(Purpose::Console.size(&config), 3);
        assert_eq!(
            open(&config, Purpose::Console).unwrap().status().max_size,
            3
        );
        assert_eq!(
            open(&config, Purpose::Dispatch).unwrap().status().max_size,
            13
        );
    }
}
