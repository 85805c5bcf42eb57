//! `[database]`: the URL (parsed by tokio-postgres, never printed in an
//! error), the pool size, the recipients relation, the pooler in front and
//! the direct URL past it.

use super::super::settings::Pooler;
use super::super::{ConfigError, DatabaseSection};
use crate::db::Relation;

/// `[database]`, checked.
pub(in crate::config) struct Database {
    pub url: String,
    pub pool_size: usize,
    pub recipients: Relation,
    pub pooler: Pooler,
    pub listen_url: Option<String>,
}

/// The URL, pool size, recipients relation, pooler and listen URL.
pub(in crate::config) fn database(raw: &DatabaseSection) -> Result<Database, ConfigError> {
    if raw.url.trim().is_empty() {
        return Err(ConfigError::invalid("database.url", "must not be empty"));
    }
    url("database.url", &raw.url)?;
    let pooler = match raw.pooler.as_str() {
        "none" => Pooler::None,
        "transaction" => Pooler::Transaction,
        _ => {
            return Err(ConfigError::invalid(
                "database.pooler",
                "must be \"none\" or \"transaction\"",
            ));
        }
    };
    let listen_url = if raw.listen_url.trim().is_empty() {
        None
    } else {
        url("database.listen_url", &raw.listen_url)?;
        Some(raw.listen_url.clone())
    };
    if !(1..=256).contains(&raw.pool_size) {
        return Err(ConfigError::invalid(
            "database.pool_size",
            "must be between 1 and 256",
        ));
    }
    let recipients = Relation::parse(&raw.recipients).ok_or_else(|| {
        ConfigError::invalid(
            "database.recipients",
            "must be a relation name such as outpost.recipients (letters, digits, _)",
        )
    })?;
    Ok(Database {
        url: raw.url.clone(),
        pool_size: raw.pool_size,
        recipients,
        pooler,
        listen_url,
    })
}

/// Checks a connection URL for `key`; the message never includes the URL,
/// so no password leaks.
fn url(key: &str, raw: &str) -> Result<(), ConfigError> {
    let (pg, _) = crate::db::pg_config(raw)
        .map_err(|e| ConfigError::invalid(key, format!("not a usable PostgreSQL URL: {e}")))?;
    // tokio-postgres ends the user:password part at the first '@'; a host
    // that still holds one means the password had an unencoded '@' (and the
    // host would print part of it).
    if pg
        .get_hosts()
        .iter()
        .any(|h| matches!(h, tokio_postgres::config::Host::Tcp(name) if name.contains('@')))
    {
        return Err(ConfigError::invalid(
            key,
            "the host part contains '@': write an '@' in the user or password as %40",
        ));
    }
    Ok(())
}
