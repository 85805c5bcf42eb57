//! Latency mode: messages offered one INSERT at a time to an idle daemon.

use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use crate::run::{
    BenchDb, BenchError, Discard, Report, Run, Transport, bench_config, finish, pending,
};
use outpost::channel::Channels;
use outpost::db;
use outpost::dispatch::{Dispatcher, listener, runner};

/// Offers `rate` messages per second, one INSERT each, for `seconds`, to an
/// idle daemon woken by LISTEN/NOTIFY; reports enqueue → send-start latency.
pub async fn latency(server_url: &str, rate: u32, seconds: u32) -> Result<Report, BenchError> {
    outpost::tls::install_crypto_provider();
    let bench = BenchDb::create(server_url).await?;
    let config = bench_config(
        &bench.url,
        crate::run::Tuning::default(),
        &[("OUTPOST__DISPATCH__POLL_INTERVAL", "5s".into())],
    )?;
    let dispatcher = Arc::new(Dispatcher::new(
        db::pool(&bench.url, config.pool_size)?,
        &config,
        Channels::with_default_for_all(Arc::new(Discard)),
        "bench",
    ));
    let shutdown = CancellationToken::new();
    let wake = Arc::new(Notify::new());
    let state = Arc::new(listener::ListenState::default());
    let listen = tokio::spawn(listener::listen(
        bench.url.clone(),
        wake.clone(),
        state.clone(),
        None,
        shutdown.clone(),
    ));
    let run = tokio::spawn(runner::run(dispatcher, wake, shutdown.clone()));
    while !state.is_connected() {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    let client = db::connect(&bench.url).await?;
    let insert = client
        .prepare("INSERT INTO outpost.messages (kind, to_address, body) VALUES ('sms', '+353861234567', 'x')")
        .await?;
    let total = u64::from(rate) * u64::from(seconds);
    let started = Instant::now();
    offer(&client, &insert, total, rate).await?;
    let elapsed = started.elapsed().as_secs_f64();
    shutdown.cancel();
    let _ = run.await;
    let _ = listen.await;
    let percentiles = start_latency(&client, None).await?;
    let mut report = finish(
        &client,
        Run {
            mode: "latency",
            transport: Transport::Discard,
            daemons: 1,
            messages: total,
            seconds: elapsed,
            statements: f64::NAN,
            peer: None,
        },
    )
    .await?;
    with_latency(&mut report, &percentiles);
    drop(client);
    bench.drop_db().await?;
    Ok(report)
}

/// Runs `insert` `count` times at `rate` a second, then waits until nothing
/// is left to send.
pub(crate) async fn offer(
    client: &tokio_postgres::Client,
    insert: &tokio_postgres::Statement,
    count: u64,
    rate: u32,
) -> Result<(), BenchError> {
    let mut ticker = tokio::time::interval(Duration::from_secs_f64(1.0 / f64::from(rate.max(1))));
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    for _ in 0..count {
        ticker.tick().await;
        client.execute(insert, &[]).await?;
    }
    while pending(client).await? {
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    Ok(())
}

/// p50, p95 and p99 of commit-to-send-start, in ms, of every message or of
/// one tenant's.
pub(crate) async fn start_latency(
    client: &tokio_postgres::Client,
    tenant: Option<&str>,
) -> Result<Vec<f64>, BenchError> {
    let row = client
        .query_one(
            "SELECT percentile_cont(ARRAY[0.5, 0.95, 0.99]) WITHIN GROUP
                 (ORDER BY extract(epoch FROM a.started_at - m.created_at) * 1000)
             FROM outpost.attempts a JOIN outpost.messages m ON m.id = a.message_id
             WHERE $1::text IS NULL OR m.tenant = $1",
            &[&tenant],
        )
        .await?;
    Ok(row.get(0))
}

/// The report with those percentiles.
pub(crate) fn with_latency(report: &mut Report, percentiles: &[f64]) {
    report.latency_p50_ms = percentiles.first().copied();
    report.latency_p95_ms = percentiles.get(1).copied();
    report.latency_p99_ms = percentiles.get(2).copied();
}
