//! The long-running daemon loop: LISTEN wake-ups, and graceful shutdown that
//! finishes or returns in-flight messages.

use crate::common;

use std::sync::Arc;
use std::time::Duration;

use common::TestDb;
use common::recorder::Recorder;
use outpost::channel::{Channel, Channels};
use tokio_util::sync::CancellationToken;

/// Polls `sql` (returning one bigint) until it equals `want`, for up to 10 s.
async fn wait_for(client: &tokio_postgres::Client, sql: &str, want: i64) {
    common::wait_until(client, sql, Duration::from_secs(10), |n| n == want).await;
}

/// The daemon's loop on this runtime, and the token that stops it.
fn start(
    config: &outpost::config::Config,
    channels: Channels,
) -> (
    tokio::task::JoinHandle<outpost::dispatch::runner::RunReport>,
    CancellationToken,
) {
    let shutdown = CancellationToken::new();
    let daemon = tokio::spawn({
        let (config, shutdown) = (config.clone(), shutdown.clone());
        async move {
            outpost::daemon::run(&config, channels, shutdown)
                .await
                .unwrap()
        }
    });
    (daemon, shutdown)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_notify_wakes_the_idle_daemon() {
    let db = TestDb::new().await;
    let client = db.client().await;
    // Polling is an hour away: only LISTEN/NOTIFY can make it claim.
    let config = db.config(&[("OUTPOST__DISPATCH__POLL_INTERVAL", "1h")]);
    let recorder = Recorder::accepting("rec");
    let channels = Channels::with_default_for_all(recorder.clone() as Arc<dyn Channel>);
    let (daemon, shutdown) = start(&config, channels);
    wait_for(
        &client,
        "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND query LIKE 'LISTEN%'",
        1,
    )
    .await;
    // Let the wake-up that follows connecting be consumed first.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let id = db.email(&client, "a@example.com").await;
    wait_for(
        &client,
        "SELECT count(*) FROM outpost.messages WHERE status = 'sent'",
        1,
    )
    .await;
    assert_eq!(recorder.per_message().get(&id), Some(&1));
    shutdown.cancel();
    let report = daemon.await.unwrap();
    assert_eq!((report.claimed, report.released), (1, 0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_returns_unfinished_leases_to_the_queue() {
    let db = TestDb::new().await;
    let client = db.client().await;
    for i in 0..5 {
        db.email(&client, &format!("u{i}@example.com")).await;
    }
    let config = db.config(&[
        ("OUTPOST__DISPATCH__SHUTDOWN_GRACE", "200ms"),
        ("OUTPOST__DISPATCH__KIND_CONCURRENCY__EMAIL", "2"),
    ]);
    // Sends block until the gate opens, which it never does.
    let gate = Arc::new(tokio::sync::Semaphore::new(0));
    let recorder = Recorder::gated("rec", gate);
    let channels = Channels::with_default_for_all(recorder.clone() as Arc<dyn Channel>);
    let (daemon, shutdown) = start(&config, channels);
    // Only what the e-mail limit lets start is claimed: two rows, the other
    // three stay queued and hold no lease.
    wait_for(
        &client,
        "SELECT count(*) FROM outpost.messages WHERE status = 'sending'",
        2,
    )
    .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    wait_for(
        &client,
        "SELECT count(*) FROM outpost.messages WHERE status = 'queued' AND attempts = 0",
        3,
    )
    .await;
    shutdown.cancel();
    let report = tokio::time::timeout(Duration::from_secs(10), daemon)
        .await
        .unwrap()
        .unwrap();
    assert_eq!((report.claimed, report.released), (2, 2));
    let rows = client
        .query(
            "SELECT status, attempts, leased_until IS NULL FROM outpost.messages ORDER BY id",
            &[],
        )
        .await
        .unwrap();
    assert!(
        rows.iter()
            .all(|r| r.get::<_, String>(0) == "queued" && r.get::<_, bool>(2))
    );
    // Two sends had begun (the email limit is 2): they keep their attempt and
    // say they may have been sent; the three never claimed have none.
    let attempts: Vec<i32> = rows.iter().map(|r| r.get(1)).collect();
    assert_eq!(
        attempts.iter().filter(|&&a| a == 1).count(),
        2,
        "{attempts:?}"
    );
    assert_eq!(
        attempts.iter().filter(|&&a| a == 0).count(),
        3,
        "{attempts:?}"
    );
    let unknown: i64 = common::scalar(&client, "SELECT count(*) FROM outpost.attempts WHERE outcome = 'unknown' AND error LIKE 'interrupted by shutdown%'", &[]).await;
    assert_eq!(unknown, 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_lets_in_flight_sends_finish_within_the_grace() {
    let db = TestDb::new().await;
    let client = db.client().await;
    for i in 0..3 {
        db.email(&client, &format!("u{i}@example.com")).await;
    }
    let config = db.config(&[("OUTPOST__DISPATCH__SHUTDOWN_GRACE", "10s")]);
    let gate = Arc::new(tokio::sync::Semaphore::new(0));
    let recorder = Recorder::gated("rec", gate.clone());
    let channels = Channels::with_default_for_all(recorder.clone() as Arc<dyn Channel>);
    let (daemon, shutdown) = start(&config, channels);
    wait_for(
        &client,
        "SELECT count(*) FROM outpost.messages WHERE status = 'sending'",
        3,
    )
    .await;
    // Claimed is not yet in flight: wait until the three sends have begun.
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while recorder.arrived() < 3 {
        assert!(
            std::time::Instant::now() < deadline,
            "{} sends began",
            recorder.arrived()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    shutdown.cancel();
    // A new message after the signal is not claimed.
    let late = db.email(&client, "late@example.com").await;
    gate.add_permits(3);
    let report = tokio::time::timeout(Duration::from_secs(10), daemon)
        .await
        .unwrap()
        .unwrap();
    assert_eq!((report.claimed, report.released), (3, 0));
    assert_eq!(recorder.count(), 3);
    wait_for(
        &client,
        "SELECT count(*) FROM outpost.messages WHERE status = 'sent'",
        3,
    )
    .await;
    assert_eq!(common::row(&client, late).await.0, "queued");
}
