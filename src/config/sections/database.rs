//! `[database]`: the URL (parsed by tokio-postgres, never printed in an
//! error), the pool size, the recipients relation, the pooler in front and
//! the direct URL past it.

use super::super::settings::{NamedDatabase, Pooler};
use super::super::{ConfigError, DatabaseSection};
use crate::db::Relation;

/// `[database]`, checked.
pub(in crate::config) struct Database {
    pub url: String,
    /// What the daemon serves: `urls`, or `url` alone.
    pub databases: Vec<NamedDatabase>,
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
    let databases = databases(raw, pooler)?;
    Ok(Database {
        databases,
        url: raw.url.clone(),
        pool_size: raw.pool_size,
        recipients,
        pooler,
        listen_url,
    })
}

/// `urls` (each checked and named by its database), or `url` alone.
fn databases(raw: &DatabaseSection, pooler: Pooler) -> Result<Vec<NamedDatabase>, ConfigError> {
    if raw.urls.is_empty() {
        return Ok(vec![NamedDatabase {
            name: database_name(&raw.url),
            url: raw.url.clone(),
        }]);
    }
    if raw.urls.len() > 64 {
        return Err(ConfigError::invalid(
            "database.urls",
            "at most 64 databases (run more daemons beyond)",
        ));
    }
    if pooler == Pooler::Transaction {
        return Err(ConfigError::invalid(
            "database.urls",
            "cannot be combined with database.pooler = \"transaction\" (the pooled statements \
             keep one database's types): run one daemon per database behind a pooler",
        ));
    }
    let mut named: Vec<NamedDatabase> = Vec::new();
    for (i, u) in raw.urls.iter().enumerate() {
        let key = format!("database.urls[{i}]");
        if u.trim().is_empty() {
            return Err(ConfigError::invalid(&key, "must not be empty"));
        }
        url(&key, u)?;
        let name = database_name(u);
        if named.iter().any(|d| d.name == name) {
            return Err(ConfigError::invalid(
                &key,
                format!(
                    "names database {name:?} as an earlier one does: each must have its own name"
                ),
            ));
        }
        named.push(NamedDatabase {
            name,
            url: u.clone(),
        });
    }
    Ok(named)
}

/// The database a URL names (tokio-postgres's default: the user's name).
fn database_name(url: &str) -> String {
    crate::db::pg_config(url)
        .ok()
        .and_then(|(pg, _)| pg.get_dbname().or_else(|| pg.get_user()).map(str::to_owned))
        .unwrap_or_else(|| "postgres".to_owned())
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

#[cfg(test)]
mod tests {
    use crate::config::{Config, RawConfig, Sources};

    fn load(env: &[(&str, &str)]) -> Result<Config, crate::config::ConfigError> {
        let env = env
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Config::load(&Sources { file: None, env })
    }

    #[test]
    fn urls_name_each_database_and_url_alone_is_one() {
        let one = load(&[("DATABASE_URL", "postgres://u:pw@h/only")]).unwrap();
        let names: Vec<&str> = one.databases.iter().map(|d| d.name.as_str()).collect();
        assert_eq!(names, ["only"]);
        let urls = "postgres://u:hunter2@h1:5432,h2:5433/a?target_session_attrs=read-write \
                    postgres://u@h/b  postgres://c@h";
        let several = load(&[("OUTPOST__DATABASE__URLS", urls)]).unwrap();
        let names: Vec<&str> = several.databases.iter().map(|d| d.name.as_str()).collect();
        assert_eq!(names, ["a", "b", "c"], "the user's name when none is given");
        assert!(several.databases[0].url.contains("h2:5433"));
        let printed = several.raw.to_redacted_toml();
        assert!(!printed.contains("hunter2"), "{printed}");
        assert!(printed.contains("dbname=b"), "{printed}");
        assert!(!format!("{:?}", several.databases).contains("hunter2"));
        let from_file: RawConfig = toml::from_str(&format!(
            "{}\n",
            crate::config::DEFAULTS.replace(
                "urls = []",
                "urls = [\"postgres://u@h/a\", \"postgres://u@h/b\"]"
            )
        ))
        .unwrap();
        assert_eq!(Config::validate(from_file).unwrap().databases.len(), 2);
    }

    #[test]
    fn urls_naming_one_database_twice_or_behind_a_pooler_are_refused() {
        for (env, key, says) in [
            (
                vec![(
                    "OUTPOST__DATABASE__URLS",
                    "postgres://u@h1/a postgres://u@h2/a",
                )],
                "database.urls[1]",
                "\"a\"",
            ),
            (
                vec![("OUTPOST__DATABASE__URLS", "postgres://u@h/a nonsense://")],
                "database.urls[1]",
                "not a usable PostgreSQL URL",
            ),
            (
                vec![
                    (
                        "OUTPOST__DATABASE__URLS",
                        "postgres://u@h/a postgres://u@h/b",
                    ),
                    ("OUTPOST__DATABASE__POOLER", "transaction"),
                ],
                "database.urls",
                "one daemon per database",
            ),
        ] {
            let error = load(&env).unwrap_err().to_string();
            assert!(
                error.contains(key) && error.contains(says),
                "{env:?}: {error}"
            );
        }
    }
}
