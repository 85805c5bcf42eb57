//! Fairness mode: one tenant's backlog queued, another tenant's messages
//! offered one INSERT at a time while it drains; reports the second tenant's
//! commit-to-send latency and the drain rate.

use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use crate::latency::{offer, start_latency, with_latency};
use crate::run::{BenchDb, BenchError, Report, Run, Transport, bench_config, finish};
use outpost::channel::{Channel, Channels, Delivery, Envelope, SendError};
use outpost::db;
use outpost::dispatch::{Dispatcher, listener, runner};

/// A provider that takes `0` to answer each send.
struct Slow(Duration);

#[async_trait]
impl Channel for Slow {
    fn name(&self) -> &str {
        "slow"
    }

    async fn send(&self, _: &Envelope) -> Result<Delivery, SendError> {
        tokio::time::sleep(self.0).await;
        Ok(Delivery::default())
    }
}

/// Tenant A's `backlog` e-mails queued, then tenant B's `offered` offered at
/// `rate` a second while the daemon drains through a provider answering
/// after `send_latency`.
pub async fn fair(
    server_url: &str,
    backlog: u64,
    offered: u32,
    rate: u32,
    send_latency: Duration,
) -> Result<Report, BenchError> {
    outpost::tls::install_crypto_provider();
    let bench = BenchDb::create(server_url).await?;
    let config = bench_config(&bench.url, crate::run::Tuning::default(), &[])?;
    let client = db::connect(&bench.url).await?;
    client
        .execute(
            "INSERT INTO outpost.messages (kind, to_address, subject, body, tenant)
             SELECT 'email', 'a' || g || '@a.example', 'report', 'b', 'hospital-a'
             FROM generate_series(1, $1::bigint) g",
            &[&i64::try_from(backlog).unwrap_or(i64::MAX)],
        )
        .await?;
    client.batch_execute("VACUUM ANALYZE").await?;
    let dispatcher = Arc::new(Dispatcher::new(
        db::pool(&bench.url, config.pool_size)?,
        &config,
        Channels::with_default_for_all(Arc::new(Slow(send_latency))),
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
    while !state.is_connected() {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let started = Instant::now();
    let run = tokio::spawn(runner::run(dispatcher, wake, shutdown.clone()));
    let insert = client
        .prepare(
            "INSERT INTO outpost.messages (kind, to_address, subject, body, tenant)
             VALUES ('email', 'b@b.example', 'reset', 'b', 'hospital-b')",
        )
        .await?;
    offer(&client, &insert, u64::from(offered), rate).await?;
    let seconds = started.elapsed().as_secs_f64();
    shutdown.cancel();
    let _ = run.await;
    let _ = listen.await;
    let percentiles = start_latency(&client, Some("hospital-b")).await?;
    let mut report = finish(
        &client,
        Run {
            mode: "fair",
            transport: Transport::Discard,
            daemons: 1,
            messages: backlog + u64::from(offered),
            seconds,
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
