//! A database outage during a drain: PostgreSQL is stopped and started again;
//! the daemon keeps running, says 503 on /readyz meanwhile, reconnects
//! (LISTEN included) and finishes the work with nothing lost or left sending.

use crate::common;

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use outpost::cluster::{Cluster, Options};

struct Stop(Cluster);

impl Drop for Stop {
    fn drop(&mut self) {
        let _ = self.0.stop();
    }
}

async fn readyz(http: &reqwest::Client, port: u16) -> Option<u16> {
    http.get(format!("http://127.0.0.1:{port}/readyz"))
        .timeout(Duration::from_secs(5))
        .send()
        .await
        .ok()
        .map(|r| r.status().as_u16())
}

async fn wait_for(http: &reqwest::Client, port: u16, status: u16) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while readyz(http, port).await != Some(status) {
        assert!(Instant::now() < deadline, "/readyz never answered {status}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_daemon_rides_out_a_database_restart() {
    outpost::tls::install_crypto_provider();
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("outage-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let cluster = {
        let dir = dir.clone();
        Stop(
            tokio::task::spawn_blocking(move || {
                Cluster::start(
                    &dir,
                    Options {
                        fast_unsafe: true,
                        tls: None,
                    },
                )
            })
            .await
            .unwrap()
            .unwrap(),
        )
    };
    let admin = outpost::db::connect(&cluster.0.url("postgres"))
        .await
        .unwrap();
    admin.batch_execute("CREATE DATABASE outage").await.unwrap();
    drop(admin);
    let url = cluster.0.url("outage");
    {
        let mut client = outpost::db::connect(&url).await.unwrap();
        outpost::db::migrate::migrate(&mut client).await.unwrap();
        outpost_testkit::enqueue_bulk(&client, 3000).await.unwrap();
    }
    let provider = common::fake::sendgrid(Duration::from_millis(40)).await;
    let seen = provider.seen.clone();
    let port = common::free_port();
    let listen = format!("127.0.0.1:{port}");
    let mut daemon = common::daemon::start(
        &url,
        &provider.uri,
        &[
            ("OUTPOST__HTTP__LISTEN", &listen),
            ("OUTPOST__DISPATCH__CONCURRENCY", "20"),
            ("OUTPOST__DISPATCH__KIND_CONCURRENCY__EMAIL", "20"),
            // Polling is far slower than the test's deadlines, so only the
            // re-established LISTEN can pick up the message sent afterwards.
            ("OUTPOST__DISPATCH__POLL_INTERVAL", "30s"),
        ],
    );
    let http = reqwest::Client::new();
    wait_for(&http, port, 200).await;
    // Mid-drain: some messages have reached the provider.
    let deadline = Instant::now() + Duration::from_secs(30);
    while seen.lock().unwrap().len() < 100 {
        assert!(Instant::now() < deadline, "the drain never started");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    // The database goes away mid-drain.
    let c = &cluster.0;
    std::thread::scope(|s| s.spawn(|| c.stop().unwrap()).join().unwrap());
    wait_for(&http, port, 503).await;
    // The outage lasts three seconds: the length of the scenario, not a wait
    // for something to happen.
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert!(
        daemon.0.try_wait().unwrap().is_none(),
        "the daemon exited during the outage"
    );
    assert_eq!(readyz(&http, port).await, Some(503));

    // It comes back; the daemon reconnects and finishes.
    std::thread::scope(|s| s.spawn(|| c.restart().unwrap()).join().unwrap());
    wait_for(&http, port, 200).await;
    let client = outpost::db::connect(&url).await.unwrap();
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let open: i64 = common::scalar(
            &client,
            "SELECT count(*) FROM outpost.messages WHERE status IN ('queued', 'sending')",
            &[],
        )
        .await;
        if open == 0 {
            break;
        }
        assert!(Instant::now() < deadline, "{open} messages never finished");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let sent: i64 = common::scalar(
        &client,
        "SELECT count(*) FROM outpost.messages WHERE status = 'sent'",
        &[],
    )
    .await;
    assert_eq!(sent, 3000);
    let seen = seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 3000, "every message reached the provider");
    // New work after the outage is picked up through the re-established LISTEN.
    client
        .execute("INSERT INTO outpost.messages (kind, to_address, subject, body) VALUES ('email', 'late@example.com', 'Late', 'x')", &[])
        .await
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let status: String = common::scalar(
            &client,
            "SELECT status FROM outpost.messages WHERE to_address = 'late@example.com'",
            &[],
        )
        .await;
        if status == "sent" {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the late message was not sent within 10 s (polling is every 30 s): LISTEN is not back"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let pid = daemon.0.id().to_string();
    Command::new("kill").args(["-TERM", &pid]).status().unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    let status = loop {
        if let Some(status) = daemon.0.try_wait().unwrap() {
            break status;
        }
        assert!(Instant::now() < deadline);
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(status.success());
    let duplicates: u32 = seen.values().map(|n| n - 1).sum();
    eprintln!("outage test: 3000 sent, {duplicates} duplicates across the restart");
}
