//! Database access: the connection pool, embedded migrations, and the named
//! SQL statements every runtime query comes from.

pub mod lenient;
pub mod migrate;
pub mod pooled;

mod relation;
pub mod sslmode;
pub mod statements;

pub use pooled::Pg;
pub use relation::Relation;

use std::time::Duration;

use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod, Runtime};
use tokio_postgres_rustls::MakeRustlsConnect;

/// Why a CA file named by `sslrootcert` could not be used.
#[derive(Debug, thiserror::Error)]
pub enum RootCertError {
    #[error(transparent)]
    Pem(#[from] rustls::pki_types::pem::Error),
    #[error(transparent)]
    Rustls(#[from] rustls::Error),
}

/// A database failure, with what Outpost was doing.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error("invalid database URL: {0}")]
    Url(#[source] tokio_postgres::Error),
    #[error("cannot build the connection pool: {0}")]
    Build(#[source] deadpool_postgres::BuildError),
    #[error("sslrootcert {path}: {source}")]
    RootCert {
        path: String,
        #[source]
        source: RootCertError,
    },
    #[error("cannot get a database connection: {0}")]
    Pool(#[from] deadpool_postgres::PoolError),
    #[error("database error: {0}")]
    Query(#[from] tokio_postgres::Error),
    #[error("unexpected answer from the database: {0}")]
    Unexpected(String),
}

/// Parses a connection URL (after [`sslmode::prepare`]), adding a connect timeout
/// and application name when it has none, and the session settings unless
/// it reaches a transaction `pooler` (PgBouncer refuses the `options`
/// startup parameter, and a session setting would not hold there anyway).
fn parse_config(url: &str, pooler: bool) -> Result<tokio_postgres::Config, DbError> {
    let mut config: tokio_postgres::Config = url.parse().map_err(DbError::Url)?;
    if config.get_connect_timeout().is_none() {
        config.connect_timeout(Duration::from_secs(5));
    }
    if config.get_application_name().is_none() {
        config.application_name("outpost");
    }
    if pooler {
        return Ok(config);
    }
    // Outpost's statements are prepared once and run with arrays of very
    // different sizes; generic plans for them scan whole tables (measured:
    // 65 ms instead of 18 ms per 500-row outcome batch). Plan every execution.
    // And never JIT-compile: once `messages` is large, the planner's cost
    // estimate for a claim passes `jit_above_cost`, and since every
    // execution is planned anew, every claim was compiled anew (measured at
    // 10,000,000 messages: 1,431 ms per 500-row claim, 27 ms without JIT).
    const SESSION: &str = "-c plan_cache_mode=force_custom_plan -c jit=off";
    let options = match config.get_options() {
        Some(existing) => format!("{existing} {SESSION}"),
        None => SESSION.to_owned(),
    };
    config.options(&options);
    Ok(config)
}

/// The settings and TLS connector for `url`, its `sslmode` honoured.
pub fn pg_config(url: &str) -> Result<(tokio_postgres::Config, MakeRustlsConnect), DbError> {
    let prepared = sslmode::prepare(url)?;
    Ok((
        parse_config(&prepared.url, pooled::active())?,
        prepared.connector,
    ))
}

/// A pool of `size` connections to `url`.
pub fn pool(url: &str, size: usize) -> Result<Pool, DbError> {
    let (config, tls) = pg_config(url)?;
    build_pool(config, tls, size)
}

/// A pool of `size` connections to `url` on which no statement runs longer
/// than `statement_timeout` (PostgreSQL cancels it: SQLSTATE 57014). Not
/// behind a transaction pooler, which refuses session settings at connect:
/// there the role's own `statement_timeout` holds.
pub fn pool_with_statement_timeout(
    url: &str,
    size: usize,
    statement_timeout: Duration,
) -> Result<Pool, DbError> {
    let (mut config, tls) = pg_config(url)?;
    if pooled::active() {
        return build_pool(config, tls, size);
    }
    let limit = format!(
        "-c statement_timeout={}",
        statement_timeout.as_millis().max(1)
    );
    let options = match config.get_options() {
        Some(existing) => format!("{existing} {limit}"),
        None => limit,
    };
    config.options(&options);
    build_pool(config, tls, size)
}

fn build_pool(
    config: tokio_postgres::Config,
    tls: MakeRustlsConnect,
    size: usize,
) -> Result<Pool, DbError> {
    let manager = Manager::from_config(
        config,
        tls,
        ManagerConfig {
            recycling_method: RecyclingMethod::Fast,
        },
    );
    Pool::builder(manager)
        .max_size(size)
        .runtime(Runtime::Tokio1)
        .wait_timeout(Some(Duration::from_secs(30)))
        .create_timeout(Some(Duration::from_secs(10)))
        .build()
        .map_err(DbError::Build)
}

/// One connection outside the pool (migrations, LISTEN, tooling), driven on
/// its own task.
pub async fn connect(url: &str) -> Result<tokio_postgres::Client, DbError> {
    let (config, tls) = pg_config(url)?;
    let (client, connection) = config.connect(tls).await?;
    tokio::spawn(async move {
        if let Err(e) = connection.await {
            tracing::debug!(error = %e, "database connection closed");
        }
    });
    Ok(client)
}

/// Runs `statement` (a batched UPDATE or DELETE whose last parameter is the
/// batch size) until a batch comes back short; returns the rows it touched.
/// Never one huge statement: each batch commits on its own.
pub async fn in_batches(
    client: &tokio_postgres::Client,
    statement: &str,
    params: &[&(dyn tokio_postgres::types::ToSql + Sync)],
    batch: i64,
) -> Result<u64, DbError> {
    let mut all: Vec<&(dyn tokio_postgres::types::ToSql + Sync)> = params.to_vec();
    all.push(&batch);
    let mut total = 0;
    if pooled::active() {
        // One unnamed statement a batch: nothing prepared across batches.
        loop {
            let n = client.pg_execute(statement, &all).await?;
            total += n;
            if i64::try_from(n).unwrap_or(i64::MAX) < batch {
                return Ok(total);
            }
        }
    }
    let statement = client.prepare(statement).await?;
    loop {
        let n = client.execute(&statement, &all).await?;
        total += n;
        if i64::try_from(n).unwrap_or(i64::MAX) < batch {
            return Ok(total);
        }
    }
}

/// How the daemon waits between attempts when the database fails it (a
/// claim, an outcome write, the LISTEN connection): exponential from 100 ms to
/// 10 s, with jitter, without end.
pub fn reconnect_backoff() -> backon::ExponentialBuilder {
    backon::ExponentialBuilder::default()
        .with_min_delay(Duration::from_millis(100))
        .with_max_delay(Duration::from_secs(10))
        .with_jitter()
        .without_max_times()
}
