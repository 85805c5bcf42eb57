//! The benchmark harness runs end to end (a small drain and scale run), so
//! the documented command keeps working; the figures live in BENCHMARKS.md.

use std::path::PathBuf;
use std::process::Command;

/// A PostgreSQL server the bench may create databases on: DATABASE_URL, else
/// 127.0.0.1:5432, else the throwaway cluster Outpost's own tests use.
async fn server_url() -> String {
    if let Ok(url) = std::env::var("DATABASE_URL") {
        return url;
    }
    let local = "postgres://postgres@127.0.0.1:5432/postgres";
    if outpost::db::connect(local).await.is_ok() {
        return local.to_owned();
    }
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target/outpost-test-pg");
    tokio::task::spawn_blocking(move || {
        std::fs::create_dir_all(&dir).unwrap();
        let lock = std::fs::File::create(dir.with_extension("lock")).unwrap();
        lock.lock().unwrap();
        let options = outpost::cluster::Options {
            fast_unsafe: true,
            tls: None,
        };
        outpost::cluster::Cluster::start(&dir, options)
            .unwrap_or_else(|e| panic!("cannot start a test PostgreSQL: {e}"))
            .url("postgres")
    })
    .await
    .unwrap()
}

fn bench(args: &[&str], server: &str) -> serde_json::Value {
    let out = Command::new(env!("CARGO_BIN_EXE_outpost-bench"))
        .args(["--server", server])
        .args(args)
        .env_remove("DATABASE_URL")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_str(stdout.lines().last().unwrap()).unwrap()
}

#[tokio::test]
async fn drain_and_scale_report_complete_runs() {
    let server = server_url().await;
    let drain = bench(
        &[
            "drain",
            "--messages",
            "300",
            "--transport",
            "http",
            "--latency",
            "20ms",
        ],
        &server,
    );
    assert_eq!(drain["messages"], 300);
    assert_eq!(drain["unfinished"], 0);
    assert_eq!(drain["peer_received"], 300);
    assert!(
        drain["peer_max_in_flight"].as_u64().unwrap() > 10,
        "{drain}"
    );
    assert_eq!(drain["duplicates"], 0);
    assert!(drain["messages_per_second"].as_f64().unwrap() > 0.0);
    assert!(drain["peak_rss_mb"].as_f64().unwrap() > 1.0);
    // The tuning flags reach the dispatcher: ten sends at most in flight.
    let small = bench(
        &[
            "drain",
            "--messages",
            "100",
            "--transport",
            "http",
            "--latency",
            "20ms",
            "--batch-size",
            "5",
            "--concurrency",
            "10",
        ],
        &server,
    );
    assert_eq!(small["peer_received"], 100);
    let max = small["peer_max_in_flight"].as_u64().unwrap();
    assert!((1..=10).contains(&max), "{small}");
    let smtp = bench(
        &["drain", "--messages", "300", "--transport", "smtp"],
        &server,
    );
    assert_eq!(smtp["unfinished"], 0);
    assert_eq!(smtp["peer_received"], 300, "{smtp}");
    assert_eq!(smtp["duplicates"], 0);
    let scale = bench(
        &[
            "scale",
            "--messages",
            "200",
            "--daemons",
            "2",
            "--latency",
            "5ms",
        ],
        &server,
    );
    assert_eq!(scale["daemons"], 2);
    assert_eq!(scale["unfinished"], 0);
    assert_eq!(scale["duplicates"], 0);
}
