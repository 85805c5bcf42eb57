//! Statements behind a transaction pooler (PgBouncer's `pool_mode =
//! transaction`, `[database] pooler = "transaction"`): nothing of a session
//! survives a transaction there, named prepared statements included.
//!
//! tokio-postgres runs `query(&str, …)` as two exchanges (prepare a named
//! statement, then bind and execute it), which a transaction pooler may send
//! to two different server connections. Behind the pooler every statement
//! here runs instead as one unnamed Parse/Bind/Execute/Sync (tokio-postgres's
//! `query_typed`): one exchange, one server connection, nothing left behind.
//! `query_typed` needs the parameters' types; they are learned once per
//! statement text, inside a transaction (where the pooler keeps the prepare,
//! the execution and the close on one server connection): the caller's own
//! when it is in one, else one on a connection of its own; and kept for the
//! life of the process.
//!
//! Without the pooler ([`enable`] never called), the methods are exactly
//! tokio-postgres's `query`, `query_one`, `query_opt` and `execute`.

use std::collections::HashMap;
use std::sync::{Arc, OnceLock, RwLock};

use tokio_postgres::types::{ToSql, Type};
use tokio_postgres::{Error, GenericClient, Row, Statement};
use tokio_postgres_rustls::MakeRustlsConnect;

use super::DbError;

/// The pooler's connection settings and the parameter types learned so far.
struct Pooled {
    config: tokio_postgres::Config,
    tls: MakeRustlsConnect,
    types: RwLock<HashMap<String, Arc<[Type]>>>,
}

static POOLED: OnceLock<Pooled> = OnceLock::new();

/// From now on this process reaches the database through a transaction
/// pooler at `url`: no session settings at connect, no statement prepared
/// across transactions. Call once, before any pool or connection is made.
pub fn enable(url: &str) -> Result<(), DbError> {
    if POOLED.get().is_some() {
        return Ok(());
    }
    let prepared = super::sslmode::prepare(url)?;
    let config = super::parse_config(&prepared.url, true)?;
    let _ = POOLED.set(Pooled {
        config,
        tls: prepared.connector,
        types: RwLock::default(),
    });
    Ok(())
}

/// Whether [`enable`] was called.
pub fn active() -> bool {
    POOLED.get().is_some()
}

/// How a statement runs.
enum Plan {
    /// No pooler: tokio-postgres's own way.
    Direct,
    /// One unnamed statement with these parameter types.
    Typed(Arc<[Type]>),
    /// Prepared inside the caller's transaction (where the pooler keeps one
    /// server connection), its types now learned for the next time.
    Prepared(Statement),
}

/// How `sql` runs on `c`; `in_transaction` when `c` is a transaction, where
/// the types are learned on `c` itself (the statement may name what this
/// transaction created, which no other connection sees yet).
async fn plan<C: GenericClient + Sync>(
    c: &C,
    sql: &str,
    in_transaction: bool,
) -> Result<Plan, Error> {
    let Some(pooled) = POOLED.get() else {
        return Ok(Plan::Direct);
    };
    if let Some(known) = pooled.types.read().ok().and_then(|t| t.get(sql).cloned()) {
        return Ok(Plan::Typed(known));
    }
    if in_transaction {
        let statement = c.prepare(sql).await?;
        pooled.learn(sql, statement.params().into());
        return Ok(Plan::Prepared(statement));
    }
    // A connection of its own: if this future is dropped half-way, only it
    // goes, never a pooled connection left inside a transaction.
    let (mut client, connection) = pooled.config.connect(pooled.tls.clone()).await?;
    let driver = tokio::spawn(connection);
    let tx = client.transaction().await?;
    let statement = tx.prepare(sql).await?;
    let learned: Arc<[Type]> = statement.params().into();
    // Closed before the transaction ends, on the same server connection.
    drop(statement);
    tx.rollback().await?;
    drop(client);
    let _ = driver.await;
    pooled.learn(sql, learned.clone());
    Ok(Plan::Typed(learned))
}

impl Pooled {
    fn learn(&self, sql: &str, types: Arc<[Type]>) {
        if let Ok(mut known) = self.types.write() {
            known.insert(sql.to_owned(), types);
        }
    }
}

/// `params` paired with their learned types.
fn typed<'a>(
    params: &'a [&'a (dyn ToSql + Sync)],
    types: &[Type],
) -> Vec<(&'a (dyn ToSql + Sync), Type)> {
    params.iter().copied().zip(types.iter().cloned()).collect()
}

/// tokio-postgres's `query`, `query_one`, `query_opt` and `execute`, each run
/// as one unnamed statement behind a transaction pooler. Implemented for
/// clients and transactions; pooled clients reach it through `Deref`.
pub trait Pg {
    /// Like `query`.
    fn pg_query(
        &self,
        sql: &str,
        params: &[&(dyn ToSql + Sync)],
    ) -> impl Future<Output = Result<Vec<Row>, Error>> + Send;
    /// Like `query_one`.
    fn pg_query_one(
        &self,
        sql: &str,
        params: &[&(dyn ToSql + Sync)],
    ) -> impl Future<Output = Result<Row, Error>> + Send;
    /// Like `query_opt`.
    fn pg_query_opt(
        &self,
        sql: &str,
        params: &[&(dyn ToSql + Sync)],
    ) -> impl Future<Output = Result<Option<Row>, Error>> + Send;
    /// Like `execute`.
    fn pg_execute(
        &self,
        sql: &str,
        params: &[&(dyn ToSql + Sync)],
    ) -> impl Future<Output = Result<u64, Error>> + Send;
}

async fn query<C: GenericClient + Sync>(
    c: &C,
    in_transaction: bool,
    sql: &str,
    params: &[&(dyn ToSql + Sync)],
) -> Result<Vec<Row>, Error> {
    match plan(c, sql, in_transaction).await? {
        Plan::Direct => c.query(sql, params).await,
        Plan::Typed(types) => c.query_typed(sql, &typed(params, &types)).await,
        Plan::Prepared(statement) => c.query(&statement, params).await,
    }
}

async fn query_one<C: GenericClient + Sync>(
    c: &C,
    in_transaction: bool,
    sql: &str,
    params: &[&(dyn ToSql + Sync)],
) -> Result<Row, Error> {
    match plan(c, sql, in_transaction).await? {
        Plan::Direct => c.query_one(sql, params).await,
        Plan::Typed(types) => c.query_typed_one(sql, &typed(params, &types)).await,
        Plan::Prepared(statement) => c.query_one(&statement, params).await,
    }
}

async fn query_opt<C: GenericClient + Sync>(
    c: &C,
    in_transaction: bool,
    sql: &str,
    params: &[&(dyn ToSql + Sync)],
) -> Result<Option<Row>, Error> {
    match plan(c, sql, in_transaction).await? {
        Plan::Direct => c.query_opt(sql, params).await,
        Plan::Typed(types) => c.query_typed_opt(sql, &typed(params, &types)).await,
        Plan::Prepared(statement) => c.query_opt(&statement, params).await,
    }
}

async fn execute<C: GenericClient + Sync>(
    c: &C,
    in_transaction: bool,
    sql: &str,
    params: &[&(dyn ToSql + Sync)],
) -> Result<u64, Error> {
    match plan(c, sql, in_transaction).await? {
        Plan::Direct => c.execute(sql, params).await,
        Plan::Typed(types) => c.execute_typed(sql, &typed(params, &types)).await,
        Plan::Prepared(statement) => c.execute(&statement, params).await,
    }
}

/// `query` of a hot statement on a pooled client: from the connection's
/// statement cache without a pooler (one exchange a call, as ever), as one
/// unnamed statement behind one.
pub async fn query_cached(
    client: &deadpool_postgres::ClientWrapper,
    sql: &str,
    params: &[&(dyn ToSql + Sync)],
) -> Result<Vec<Row>, Error> {
    if active() {
        return query(&**client, false, sql, params).await;
    }
    let statement = client.prepare_cached(sql).await?;
    client.query(&statement, params).await
}

/// [`Pg`] for a type that reaches a tokio-postgres client or transaction
/// through `$inner`.
macro_rules! pg_through {
    ($ty:ty, $in_transaction:expr, |$s:ident| $inner:expr) => {
        impl Pg for $ty {
            async fn pg_query(
                &self,
                sql: &str,
                params: &[&(dyn ToSql + Sync)],
            ) -> Result<Vec<Row>, Error> {
                let $s = self;
                query($inner, $in_transaction, sql, params).await
            }
            async fn pg_query_one(
                &self,
                sql: &str,
                params: &[&(dyn ToSql + Sync)],
            ) -> Result<Row, Error> {
                let $s = self;
                query_one($inner, $in_transaction, sql, params).await
            }
            async fn pg_query_opt(
                &self,
                sql: &str,
                params: &[&(dyn ToSql + Sync)],
            ) -> Result<Option<Row>, Error> {
                let $s = self;
                query_opt($inner, $in_transaction, sql, params).await
            }
            async fn pg_execute(
                &self,
                sql: &str,
                params: &[&(dyn ToSql + Sync)],
            ) -> Result<u64, Error> {
                let $s = self;
                execute($inner, $in_transaction, sql, params).await
            }
        }
    };
}

pg_through!(tokio_postgres::Client, false, |s| s);
pg_through!(tokio_postgres::Transaction<'_>, true, |s| s);
pg_through!(deadpool_postgres::ClientWrapper, false, |s| &**s);
pg_through!(deadpool_postgres::Client, false, |s| &***s);
pg_through!(deadpool_postgres::Transaction<'_>, true, |s| &**s);
