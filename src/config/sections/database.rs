//! `[database]`: the URL (parsed by tokio-postgres, never printed in an
//! error), the pool size and the recipients relation.

use super::super::{ConfigError, DatabaseSection};
use crate::db::Relation;

/// The URL, pool size and recipients relation.
pub(in crate::config) fn database(
    raw: &DatabaseSection,
) -> Result<(String, usize, Relation), ConfigError> {
    if raw.url.trim().is_empty() {
        return Err(ConfigError::invalid("database.url", "must not be empty"));
    }
    let (pg, _) = crate::db::pg_config(&raw.url).map_err(|e| {
        // The message never includes the URL, so no password leaks.
        ConfigError::invalid("database.url", format!("not a usable PostgreSQL URL: {e}"))
    })?;
    // tokio-postgres ends the user:password part at the first '@'; a host
    // that still holds one means the password had an unencoded '@' (and the
    // host would print part of it).
    if pg
        .get_hosts()
        .iter()
        .any(|h| matches!(h, tokio_postgres::config::Host::Tcp(name) if name.contains('@')))
    {
        return Err(ConfigError::invalid(
            "database.url",
            "the host part contains '@': write an '@' in the user or password as %40",
        ));
    }
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
    Ok((raw.url.clone(), raw.pool_size, recipients))
}
