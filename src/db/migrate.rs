//! The migration runner: the `sql/NNNN_name.sql` files, compiled in, applied in
//! order in one transaction under an advisory lock, and recorded with a
//! SHA-256 checksum in `outpost.schema_migrations`.

use super::Pg;
use sha2::{Digest, Sha256};
use tokio_postgres::Client;

use super::statements;

/// One forward-only migration file.
#[derive(Debug, Clone, Copy)]
pub struct Migration {
    pub version: &'static str,
    pub name: &'static str,
    pub sql: &'static str,
}

macro_rules! migration {
    ($version:literal, $name:literal) => {
        Migration {
            version: $version,
            name: $name,
            sql: include_str!(concat!("../../sql/", $version, "_", $name, ".sql")),
        }
    };
}

/// Every migration, in order. A new file in `sql/` must be listed here (a
/// test checks that the two agree). Versions may skip numbers: each is
/// applied when the database has not recorded it.
pub const MIGRATIONS: &[Migration] = &[
    migration!("0001", "outbox"),
    migration!("0002", "helpers"),
    migration!("0003", "smtp_servers"),
    migration!("0004", "inbound_suppressions"),
    migration!("0005", "phone"),
    migration!("0006", "push_chat"),
    migration!("0007", "audit_roles"),
    migration!("0008", "schedules_housekeeping"),
    migration!("0009", "attempts_trigger_cascade"),
    migration!("0010", "delivery_truth"),
    migration!("0011", "hardening"),
    migration!("0012", "consumer_cursors"),
    migration!("0013", "retry_keeps_future_run_at"),
    migration!("0014", "console"),
    migration!("0015", "recipient_controls"),
    migration!("0016", "search_keys"),
    migration!("0017", "time_keys"),
    migration!("0018", "refuse_unsendable"),
    migration!("0019", "uniform_helpers"),
    migration!("0020", "tenants"),
    migration!("0021", "fair_claim"),
    migration!("0022", "phone_caps"),
    migration!("0023", "pauses"),
    migration!("0024", "tenant_caps"),
    migration!("0025", "console_tenants"),
    migration!("0026", "tenant_rates"),
    migration!("0027", "webhooks"),
    migration!("0028", "escalation"),
    migration!("0029", "inbox"),
    migration!("0030", "inbox_commit_order"),
];

/// The advisory lock key that serialises migrations ("outpost" in ASCII).
const LOCK_KEY: i64 = 0x006f_7574_706f_7374;

const BOOTSTRAP: &str = include_str!("queries/migrations_bootstrap.sql");

/// Why the schema could not be brought up to date.
#[derive(Debug, thiserror::Error)]
pub enum MigrateError {
    #[error(
        "migration {version}_{name} was changed after it was applied \
         (recorded checksum {recorded}, file now {current}); migrations are forward-only: \
         restore the file and add a new migration instead"
    )]
    Changed {
        version: String,
        name: String,
        recorded: String,
        current: String,
    },
    #[error(
        "the database has migration {0} which this binary does not know: \
         it was migrated by a newer Outpost"
    )]
    Unknown(String),
    #[error("migration {version}_{name} failed: {source}")]
    Failed {
        version: String,
        name: String,
        #[source]
        source: tokio_postgres::Error,
    },
    #[error("database error while migrating: {0}")]
    Db(#[from] tokio_postgres::Error),
}

impl Migration {
    pub fn checksum(&self) -> String {
        hex::encode(Sha256::digest(self.sql.as_bytes()))
    }
}

/// Applies every pending migration; returns the versions applied (empty when
/// the schema was already current). Safe to run concurrently.
pub async fn migrate(client: &mut Client) -> Result<Vec<&'static str>, MigrateError> {
    let tx = client.transaction().await?;
    tx.pg_execute(statements::MIGRATION_LOCK, &[&LOCK_KEY])
        .await?;
    tx.batch_execute(BOOTSTRAP).await?;
    let recorded = recorded(&tx).await?;
    verify(&recorded)?;
    let mut applied = Vec::new();
    for m in MIGRATIONS {
        if recorded.iter().any(|(v, _)| v == m.version) {
            continue;
        }
        tx.batch_execute(m.sql)
            .await
            .map_err(|source| MigrateError::Failed {
                version: m.version.to_owned(),
                name: m.name.to_owned(),
                source,
            })?;
        tx.pg_execute(
            statements::MIGRATION_RECORD,
            &[&m.version, &m.name, &m.checksum()],
        )
        .await?;
        applied.push(m.version);
    }
    tx.commit().await?;
    Ok(applied)
}

/// The versions not yet applied, without changing anything; an error when an
/// applied file was changed or is unknown.
pub async fn pending(client: &Client) -> Result<Vec<&'static str>, MigrateError> {
    let exists: bool = client
        .pg_query_one(statements::MIGRATIONS_TABLE_EXISTS, &[])
        .await?
        .get(0);
    let recorded = if exists {
        let tx_free = client.pg_query(statements::MIGRATIONS_APPLIED, &[]).await?;
        tx_free.iter().map(|r| (r.get(0), r.get(1))).collect()
    } else {
        Vec::new()
    };
    verify(&recorded)?;
    Ok(MIGRATIONS
        .iter()
        .filter(|m| !recorded.iter().any(|(v, _)| v == m.version))
        .map(|m| m.version)
        .collect())
}

async fn recorded(
    tx: &tokio_postgres::Transaction<'_>,
) -> Result<Vec<(String, String)>, MigrateError> {
    let rows = tx.pg_query(statements::MIGRATIONS_APPLIED, &[]).await?;
    Ok(rows.iter().map(|r| (r.get(0), r.get(1))).collect())
}

fn verify(recorded: &[(String, String)]) -> Result<(), MigrateError> {
    for (version, checksum) in recorded {
        let Some(m) = MIGRATIONS.iter().find(|m| m.version == version) else {
            return Err(MigrateError::Unknown(version.clone()));
        };
        let current = m.checksum();
        if &current != checksum {
            return Err(MigrateError::Changed {
                version: version.clone(),
                name: m.name.to_owned(),
                recorded: checksum.clone(),
                current,
            });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::MIGRATIONS;

    #[test]
    fn every_sql_file_is_listed_in_order() {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/sql");
        let mut files: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .filter(|n| n.ends_with(".sql"))
            .collect();
        files.sort();
        let listed: Vec<String> = MIGRATIONS
            .iter()
            .map(|m| format!("{}_{}.sql", m.version, m.name))
            .collect();
        assert_eq!(files, listed);
        let mut versions: Vec<&str> = MIGRATIONS.iter().map(|m| m.version).collect();
        versions.dedup();
        assert_eq!(
            versions.len(),
            MIGRATIONS.len(),
            "duplicate migration version"
        );
    }
}
