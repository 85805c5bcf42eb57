//! A drain run: a fresh database, messages enqueued in bulk, one in-process
//! dispatcher to empty it, and the figures of the run (see BENCHMARKS.md).

use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use serde::Serialize;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use outpost::channel::{Channel, Channels, Delivery, Envelope, SendError};
use outpost::config::{Config, Sources};
use outpost::db::{self, DbError};
use outpost::dispatch::{Dispatcher, runner};
use outpost::render::Templates;
use outpost_testkit::enqueue_bulk;

use crate::peer;

/// Where messages go during a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    /// No I/O at all: the dispatcher and the database alone.
    Discard,
    /// The real SendGrid transport against a local fake with this latency.
    Http(Duration),
    /// The real SMTP transport (pooled) against a local sink.
    Smtp,
}

impl Transport {
    fn name(self) -> &'static str {
        match self {
            Transport::Discard => "discard",
            Transport::Http(_) => "http",
            Transport::Smtp => "smtp",
        }
    }
}

/// Why a run could not complete.
#[derive(Debug, thiserror::Error)]
pub enum BenchError {
    #[error(transparent)]
    Db(#[from] DbError),
    #[error(transparent)]
    Postgres(#[from] tokio_postgres::Error),
    #[error("{0}")]
    Setup(String),
}

/// One run's figures.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Report {
    pub mode: &'static str,
    pub transport: &'static str,
    pub daemons: usize,
    pub messages: u64,
    pub seconds: f64,
    pub messages_per_second: f64,
    pub latency_p50_ms: Option<f64>,
    pub latency_p95_ms: Option<f64>,
    pub latency_p99_ms: Option<f64>,
    pub peak_rss_mb: f64,
    pub statements_per_message: f64,
    pub dead_tuples_messages: i64,
    pub live_tuples_messages: i64,
    /// Distinct messages the peer (HTTP fake or SMTP sink) received.
    pub peer_received: Option<u64>,
    pub duplicates: Option<u64>,
    /// The most requests the HTTP fake answered at once.
    pub peer_max_in_flight: Option<u32>,
    pub unfinished: i64,
    /// Databases the daemons served (scale mode).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub databases: Option<usize>,
    /// The database left in place (`growth --keep-database`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub database: Option<String>,
}

/// A channel that accepts everything at once.
pub(crate) struct Discard;

#[async_trait]
impl Channel for Discard {
    fn name(&self) -> &str {
        "discard"
    }

    async fn send(&self, _: &Envelope) -> Result<Delivery, SendError> {
        Ok(Delivery::default())
    }
}

/// A throwaway database on the server `server_url` points at.
pub(crate) struct BenchDb {
    server_url: String,
    name: String,
    pub(crate) url: String,
}

impl BenchDb {
    pub(crate) async fn create(server_url: &str) -> Result<Self, BenchError> {
        let name = format!(
            "outpost_bench_{}_{}",
            std::process::id(),
            rand::random::<u32>()
        );
        let admin = db::connect(server_url).await?;
        admin
            .batch_execute(&format!("CREATE DATABASE {name}"))
            .await?;
        let url = with_database(server_url, &name)?;
        let mut client = db::connect(&url).await?;
        db::migrate::migrate(&mut client)
            .await
            .map_err(|e| BenchError::Setup(e.to_string()))?;
        // For schema experiments (BENCHMARKS.md): SQL applied after the
        // migrations, e.g. an index dropped or replaced.
        if let Some(path) = std::env::var_os("OUTPOST_BENCH_SETUP_SQL") {
            let sql = std::fs::read_to_string(&path).map_err(|e| {
                BenchError::Setup(format!("OUTPOST_BENCH_SETUP_SQL {}: {e}", path.display()))
            })?;
            client.batch_execute(&sql).await?;
        }
        Ok(Self {
            server_url: server_url.to_owned(),
            name,
            url,
        })
    }

    pub(crate) async fn drop_db(self) -> Result<(), BenchError> {
        let admin = db::connect(&self.server_url).await?;
        admin
            .batch_execute(&format!(
                "DROP DATABASE IF EXISTS {} WITH (FORCE)",
                self.name
            ))
            .await?;
        Ok(())
    }
}

/// `url` with its database replaced by `name` (URL form only).
fn with_database(url: &str, name: &str) -> Result<String, BenchError> {
    let (base, query) = url
        .split_once('?')
        .map_or((url, None), |(b, q)| (b, Some(q)));
    let (scheme, rest) = base
        .split_once("://")
        .ok_or_else(|| BenchError::Setup("the bench needs a postgres:// URL".into()))?;
    let host_part = rest.split_once('/').map_or(rest, |(h, _)| h);
    Ok(match query {
        Some(q) => format!("{scheme}://{host_part}/{name}?{q}"),
        None => format!("{scheme}://{host_part}/{name}"),
    })
}

/// Peak resident set size of this process, in MB.
pub fn peak_rss_mb() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse::<f64>().ok())
        })
        .map_or(0.0, |kb| kb / 1024.0)
}

/// The dispatcher's claim batch and send concurrency for an in-process run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tuning {
    pub batch_size: u32,
    pub concurrency: u32,
}

impl Default for Tuning {
    /// What BENCHMARKS.md's figures use: batches of 500, 1,000 sends at once.
    fn default() -> Self {
        Self {
            batch_size: 500,
            concurrency: 1000,
        }
    }
}

pub(crate) fn bench_config(
    url: &str,
    tuning: Tuning,
    extra: &[(&str, String)],
) -> Result<Config, BenchError> {
    let mut env: Vec<(String, String)> = vec![
        ("DATABASE_URL".into(), url.to_owned()),
        (
            "OUTPOST__DISPATCH__BATCH_SIZE".into(),
            tuning.batch_size.to_string(),
        ),
        (
            "OUTPOST__DISPATCH__CONCURRENCY".into(),
            tuning.concurrency.to_string(),
        ),
        (
            "OUTPOST__DISPATCH__KIND_CONCURRENCY__EMAIL".into(),
            tuning.concurrency.to_string(),
        ),
        ("OUTPOST__DATABASE__POOL_SIZE".into(), "8".into()),
        ("OUTPOST__HOUSEKEEPING__ENABLED".into(), "false".into()),
        ("OUTPOST__HTTP__ENABLED".into(), "false".into()),
        ("OUTPOST__OPS__ENABLED".into(), "false".into()),
        ("OUTPOST__LOG__LEVEL".into(), "warn".into()),
        // The latency mode sends every SMS to one number: no per-number cap.
        ("OUTPOST__LIMITS__PHONE_PER_HOUR".into(), "0".into()),
    ];
    env.extend(extra.iter().map(|(k, v)| (k.to_string(), v.clone())));
    Config::load(&Sources { file: None, env }).map_err(|e| BenchError::Setup(e.to_string()))
}

async fn xacts(client: &tokio_postgres::Client) -> Result<i64, BenchError> {
    Ok(client
        .query_one(
            "SELECT xact_commit FROM pg_stat_database WHERE datname = current_database()",
            &[],
        )
        .await?
        .get(0))
}

/// Whether any message is still queued or in flight. Answered from the
/// partial indexes (`EXISTS` stops at the first entry), so polling it costs
/// the database next to nothing even with a million rows.
pub(crate) async fn pending(client: &tokio_postgres::Client) -> Result<bool, BenchError> {
    Ok(client
        .query_one(
            "SELECT EXISTS (SELECT 1 FROM outpost.messages WHERE status = 'queued')
                 OR EXISTS (SELECT 1 FROM outpost.messages WHERE status = 'sending')",
            &[],
        )
        .await?
        .get(0))
}

async fn channels_for(config: &Config, transport: Transport) -> Result<Channels, BenchError> {
    match transport {
        Transport::Discard => Ok(Channels::with_default_for_all(Arc::new(Discard))),
        Transport::Http(_) | Transport::Smtp => {
            let templates = Arc::new(
                Templates::load(&config.template_source())
                    .map_err(|e| BenchError::Setup(e.to_string()))?,
            );
            let sink = Arc::new(std::sync::Mutex::new(std::io::sink()));
            let channels = outpost::daemon::build_channels_with_sink(config, templates, sink)
                .map_err(|e| BenchError::Setup(e.to_string()))?;
            Ok(channels)
        }
    }
}

/// Drains `n` messages through `transport` with one dispatcher; `keep` leaves
/// the database in place afterwards.
pub async fn drain(
    server_url: &str,
    n: u64,
    transport: Transport,
    tuning: Tuning,
    keep: bool,
) -> Result<Report, BenchError> {
    outpost::tls::install_crypto_provider();
    let bench = BenchDb::create(server_url).await?;
    let mut extra: Vec<(&str, String)> = Vec::new();
    let peer = match transport {
        Transport::Discard => None,
        Transport::Http(latency) => {
            let peer = peer::PeerProcess::start(peer::PeerKind::Http(latency)).await?;
            extra.push(("OUTPOST__EMAIL__BACKEND", "sendgrid".into()));
            extra.push(("OUTPOST__EMAIL__SENDGRID__API_KEY", "SG.bench".into()));
            extra.push((
                "OUTPOST__EMAIL__SENDGRID__BASE_URL",
                format!("http://{}", peer.listen),
            ));
            extra.push(("OUTPOST__EMAIL__FROM", "Bench <bench@example.com>".into()));
            Some(peer)
        }
        Transport::Smtp => {
            let peer = peer::PeerProcess::start(peer::PeerKind::Smtp).await?;
            let (host, port) = peer.listen.rsplit_once(':').unwrap_or(("127.0.0.1", ""));
            extra.push(("OUTPOST__EMAIL__BACKEND", "smtp".into()));
            extra.push(("OUTPOST__EMAIL__SMTP__HOST", host.to_owned()));
            extra.push(("OUTPOST__EMAIL__SMTP__PORT", port.to_owned()));
            extra.push(("OUTPOST__EMAIL__SMTP__POOL_SIZE", "32".into()));
            Some(peer)
        }
    };
    let config = bench_config(&bench.url, tuning, &extra)?;
    let channels = channels_for(&config, transport).await?;
    let client = db::connect(&bench.url).await?;
    enqueue_bulk(&client, n).await?;
    // As the graphile-worker peer does before its timer starts.
    client.batch_execute("VACUUM ANALYZE").await?;
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let before = xacts(&client).await?;

    let dispatcher = Arc::new(Dispatcher::new(
        db::pool(&bench.url, config.pool_size)?,
        &config,
        channels,
        "bench",
    ));
    let shutdown = CancellationToken::new();
    let wake = Arc::new(Notify::new());
    let started = Instant::now();
    let run = tokio::spawn(runner::run(dispatcher, wake, shutdown.clone()));
    let mut polls = 0i64;
    loop {
        tokio::time::sleep(Duration::from_millis(25)).await;
        polls += 1;
        if !pending(&client).await? {
            break;
        }
    }
    let seconds = started.elapsed().as_secs_f64();
    shutdown.cancel();
    let _ = run.await;
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let after = xacts(&client).await?;
    let report = finish(
        &client,
        Run {
            mode: "drain",
            transport,
            daemons: 1,
            messages: n,
            seconds,
            statements: (after - before - polls - 1) as f64,
            peer: match &peer {
                Some(p) => Some(p.stats().await?),
                None => None,
            },
        },
    )
    .await?;
    drop(client);
    if keep {
        return Ok(Report {
            database: Some(bench.name),
            ..report
        });
    }
    bench.drop_db().await?;
    Ok(report)
}

/// What a finished run measured itself, before the database is asked.
pub(crate) struct Run {
    pub(crate) mode: &'static str,
    pub(crate) transport: Transport,
    pub(crate) daemons: usize,
    pub(crate) messages: u64,
    pub(crate) seconds: f64,
    pub(crate) statements: f64,
    pub(crate) peer: Option<peer::PeerStats>,
}

/// Messages that did not end sent, delivered or failed.
pub(crate) async fn unfinished(client: &tokio_postgres::Client) -> Result<i64, BenchError> {
    Ok(client
        .query_one("SELECT count(*) FROM outpost.messages WHERE status NOT IN ('sent', 'delivered', 'failed')", &[])
        .await?
        .get(0))
}

pub(crate) async fn finish(
    client: &tokio_postgres::Client,
    run: Run,
) -> Result<Report, BenchError> {
    let Run {
        mode,
        transport,
        daemons,
        messages: n,
        seconds,
        statements,
        peer,
    } = run;
    client
        .batch_execute("SELECT pg_stat_force_next_flush()")
        .await
        .ok();
    let tuples = client
        .query_one(
            "SELECT coalesce(n_dead_tup, 0), coalesce(n_live_tup, 0) FROM pg_stat_user_tables WHERE schemaname = 'outpost' AND relname = 'messages'",
            &[],
        )
        .await?;
    let unfinished = unfinished(client).await?;
    Ok(Report {
        mode,
        transport: transport.name(),
        daemons,
        messages: n,
        seconds,
        messages_per_second: n as f64 / seconds,
        peak_rss_mb: peak_rss_mb(),
        statements_per_message: statements / n as f64,
        dead_tuples_messages: tuples.get(0),
        live_tuples_messages: tuples.get(1),
        peer_received: peer.map(|p| p.received),
        duplicates: peer.map(|p| p.duplicates),
        peer_max_in_flight: peer.and_then(|p| p.max_in_flight),
        unfinished,
        ..Report::default()
    })
}
