//! The benchmark harness runs end to end (a small drain and scale run), so
//! the documented command keeps working; the figures live in BENCHMARKS.md.

mod common;

use std::process::Command;

fn bench(args: &[&str], server: &str) -> serde_json::Value {
    let out = Command::new(env!("CARGO_BIN_EXE_outpost"))
        .arg("bench")
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
    let server = common::server_url().await;
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
