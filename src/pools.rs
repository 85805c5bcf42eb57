//! The pool policy: every pool the daemon opens, its size and its session
//! settings, decided here from the configuration and nowhere else.

use deadpool_postgres::Pool;

use crate::config::Config;
use crate::db::{self, DbError};

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
