//! Scale mode: several `outpost run` processes on one database, or on
//! several databases each (`[database] urls`) with the messages split
//! between them.

use std::time::{Duration, Instant};

use crate::http_fake;
use crate::run::{BenchDb, BenchError, Report, Run, Transport, finish, pending};
use outpost::db;
use outpost_testkit::enqueue_bulk;

/// Drains `n` messages with `daemons` separate `outpost run` processes,
/// each serving all of `databases` databases (the messages split evenly,
/// each database's ids a billion apart so that the fake tells them apart),
/// through the HTTP fake answering after `provider_latency`; counts
/// duplicates and unfinished messages.
pub async fn scale(
    server_url: &str,
    n: u64,
    daemons: usize,
    databases: usize,
    provider_latency: Duration,
    pooler: Option<&str>,
) -> Result<Report, BenchError> {
    outpost::tls::install_crypto_provider();
    let mut benches = Vec::new();
    let mut clients = Vec::new();
    let databases = databases.max(1);
    for i in 0..databases {
        let bench = BenchDb::create(server_url).await?;
        let client = db::connect(&bench.url).await?;
        client
            .batch_execute(&format!(
                "ALTER TABLE outpost.messages ALTER COLUMN id RESTART WITH {}",
                i as u64 * 1_000_000_000 + 1
            ))
            .await?;
        let share = n / databases as u64 + u64::from((i as u64) < n % databases as u64);
        enqueue_bulk(&client, share).await?;
        benches.push(bench);
        clients.push(client);
    }
    let urls: Vec<&str> = benches.iter().map(|b| b.url.as_str()).collect();
    let (addr, seen) = http_fake::http_fake(provider_latency)
        .await
        .map_err(|e| BenchError::Setup(e.to_string()))?;
    let exe = outpost_exe()?;
    let started = Instant::now();
    let mut children = Vec::new();
    for _ in 0..daemons {
        let mut command = tokio::process::Command::new(&exe);
        match pooler {
            // Claims and outcomes through the pooler, LISTEN direct.
            Some(pooler) => command
                .env("DATABASE_URL", through(urls[0], pooler)?)
                .env("OUTPOST__DATABASE__POOLER", "transaction")
                .env("OUTPOST__DATABASE__LISTEN_URL", urls[0]),
            None => command
                .env("DATABASE_URL", urls[0])
                .env("OUTPOST__DATABASE__URLS", urls.join(" ")),
        };
        let child = command
            .arg("run")
            .env("OUTPOST__EMAIL__BACKEND", "sendgrid")
            .env("OUTPOST__EMAIL__SENDGRID__API_KEY", "SG.bench")
            .env(
                "OUTPOST__EMAIL__SENDGRID__BASE_URL",
                format!("http://{addr}"),
            )
            .env("OUTPOST__EMAIL__FROM", "Bench <bench@example.com>")
            .env("OUTPOST__HTTP__ENABLED", "false")
            .env("OUTPOST__OPS__ENABLED", "false")
            .env("OUTPOST__HOUSEKEEPING__ENABLED", "false")
            .env("OUTPOST__LOG__LEVEL", "warn")
            .stdout(std::process::Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| BenchError::Setup(format!("cannot start a daemon: {e}")))?;
        children.push(child);
    }
    for client in &clients {
        while pending(client).await? {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    let seconds = started.elapsed().as_secs_f64();
    for child in &children {
        if let Some(pid) = child.id() {
            let _ = std::process::Command::new("kill")
                .args(["-TERM", &pid.to_string()])
                .status();
        }
    }
    for mut child in children {
        let _ = child.wait().await;
    }
    let mut unfinished = 0;
    for client in &clients[1..] {
        unfinished += crate::run::unfinished(client).await?;
    }
    let mut report = finish(
        &clients[0],
        Run {
            mode: "scale",
            transport: Transport::Http(provider_latency),
            daemons,
            messages: n,
            seconds,
            statements: f64::NAN,
            peer: Some(crate::peer::PeerStats::of(&seen, None)),
        },
    )
    .await?;
    report.unfinished += unfinished;
    report.databases = Some(databases);
    drop(clients);
    for bench in benches {
        bench.drop_db().await?;
    }
    Ok(report)
}

/// `url` with its host and port replaced by `pooler` (`host:port`).
fn through(url: &str, pooler: &str) -> Result<String, BenchError> {
    let (_, rest) = url
        .split_once("://")
        .ok_or_else(|| BenchError::Setup(format!("not a URL: {url}")))?;
    let (authority, database) = rest
        .split_once('/')
        .ok_or_else(|| BenchError::Setup(format!("no database in {url}")))?;
    let user = authority
        .rsplit_once('@')
        .map(|(user, _)| format!("{user}@"))
        .unwrap_or_default();
    Ok(format!("postgres://{user}{pooler}/{database}"))
}

/// The `outpost` binary built beside this one (`cargo build --release
/// --workspace` builds both), or `OUTPOST_BIN`.
pub(crate) fn outpost_exe() -> Result<std::path::PathBuf, BenchError> {
    if let Some(path) = std::env::var_os("OUTPOST_BIN") {
        return Ok(path.into());
    }
    let me = std::env::current_exe().map_err(|e| BenchError::Setup(e.to_string()))?;
    let sibling = me.with_file_name("outpost");
    if sibling.exists() {
        return Ok(sibling);
    }
    // Test binaries live one level down, in deps/.
    let up = me
        .parent()
        .and_then(|d| d.parent())
        .map(|d| d.join("outpost"))
        .filter(|p| p.exists());
    up.ok_or_else(|| {
        BenchError::Setup(format!(
            "no outpost binary beside {}: build it (cargo build --release --workspace) or set OUTPOST_BIN",
            me.display()
        ))
    })
}
