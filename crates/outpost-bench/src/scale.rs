//! Scale mode: several `outpost run` processes on one database.

use std::time::{Duration, Instant};

use crate::http_fake;
use crate::run::{BenchDb, BenchError, Report, Run, Transport, finish, pending};
use outpost::db;
use outpost_testkit::enqueue_bulk;

/// Drains `n` messages with `daemons` separate `outpost run` processes,
/// through the HTTP fake answering after `provider_latency`; counts
/// duplicates and unfinished messages.
pub async fn scale(
    server_url: &str,
    n: u64,
    daemons: usize,
    provider_latency: Duration,
) -> Result<Report, BenchError> {
    outpost::tls::install_crypto_provider();
    let bench = BenchDb::create(server_url).await?;
    let (addr, seen) = http_fake::http_fake(provider_latency)
        .await
        .map_err(|e| BenchError::Setup(e.to_string()))?;
    let client = db::connect(&bench.url).await?;
    enqueue_bulk(&client, n).await?;
    let exe = outpost_exe()?;
    let started = Instant::now();
    let mut children = Vec::new();
    for _ in 0..daemons {
        let child = tokio::process::Command::new(&exe)
            .arg("run")
            .env("DATABASE_URL", &bench.url)
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
    while pending(&client).await? {
        tokio::time::sleep(Duration::from_millis(100)).await;
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
    let report = finish(
        &client,
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
    drop(client);
    bench.drop_db().await?;
    Ok(report)
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
