//! A failover as an operator lives it: a primary and a synchronous streaming
//! standby (real PostgreSQL, `pg_basebackup -R`), the daemon on a multi-host
//! `DATABASE_URL` with `target_session_attrs=read-write`, a drain under way,
//! the primary stopped with `-m immediate`, the standby promoted. Nothing
//! committed is lost; a message is sent twice only if it was in flight, and
//! then its attempts say so.

use std::collections::HashMap;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use outpost::cluster::{Cluster, Options};

use crate::common::{self, daemon::Daemon};

/// Runs a PostgreSQL tool as the user that owns the clusters.
fn pg_tool(program: &str, args: &[&str]) {
    let exe = outpost::cluster::find_bindir()
        .expect("PostgreSQL's server binaries")
        .join(program);
    let mut cmd = if is_root() {
        let mut c = Command::new("runuser");
        c.args(["-u", "postgres", "--"]).arg(exe);
        c
    } else {
        Command::new(exe)
    };
    let out = cmd.args(args).output().unwrap();
    assert!(
        out.status.success(),
        "{program} {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn is_root() -> bool {
    std::fs::metadata("/proc/self")
        .map(|m| std::os::unix::fs::MetadataExt::uid(&m) == 0)
        .unwrap_or(false)
}

/// Stops the clusters under these data directories when the test ends,
/// however it ends.
struct StopAtEnd(Vec<std::path::PathBuf>);

impl Drop for StopAtEnd {
    fn drop(&mut self) {
        for data in &self.0 {
            if data.join("postmaster.pid").exists() {
                let exe = outpost::cluster::find_bindir().map(|b| b.join("pg_ctl"));
                if let Some(exe) = exe {
                    let mut cmd = if is_root() {
                        let mut c = Command::new("runuser");
                        c.args(["-u", "postgres", "--"]).arg(exe);
                        c
                    } else {
                        Command::new(exe)
                    };
                    let _ = cmd
                        .args([
                            "-D",
                            data.to_str().unwrap_or_default(),
                            "-m",
                            "immediate",
                            "stop",
                        ])
                        .output();
                }
            }
        }
    }
}

/// A primary with a synchronous standby under `dir`: (primary, standby).
async fn replicated(dir: &Path) -> (Cluster, Cluster) {
    let primary = Cluster::start(&dir.join("primary"), Options::default()).unwrap();
    let standby_dir = dir.join("standby");
    std::fs::create_dir_all(&standby_dir).unwrap();
    if is_root() {
        let ok = Command::new("chown")
            .args(["-R", "postgres"])
            .arg(&standby_dir)
            .status()
            .unwrap();
        assert!(ok.success());
    }
    let data = standby_dir.join("data");
    let port = primary.port().to_string();
    pg_tool(
        "pg_basebackup",
        &[
            "-h",
            "127.0.0.1",
            "-p",
            &port,
            "-U",
            "postgres",
            "-D",
            data.to_str().unwrap(),
            "-R",
            "-X",
            "stream",
            "-c",
            "fast",
        ],
    );
    // Promoted, the standby must not wait for a standby of its own.
    let auto = data.join("postgresql.auto.conf");
    let mut conf = std::fs::read_to_string(&auto).unwrap();
    conf.push_str("synchronous_standby_names = ''\n");
    std::fs::write(&auto, conf).unwrap();
    let standby = Cluster::start(&standby_dir, Options::default()).unwrap();
    let client = outpost::db::connect(&primary.url("postgres"))
        .await
        .unwrap();
    for statement in [
        "ALTER SYSTEM SET synchronous_standby_names = '*'",
        "ALTER SYSTEM SET synchronous_commit = 'on'",
        "SELECT pg_reload_conf()",
    ] {
        client.batch_execute(statement).await.unwrap();
    }
    common::wait_until(
        &client,
        "SELECT count(*) FROM pg_stat_replication WHERE sync_state = 'sync'",
        Duration::from_secs(30),
        |n| n == 1,
    )
    .await;
    (primary, standby)
}

/// Prints the daemon's log if the test fails.
struct ShowAtPanic(std::path::PathBuf);

impl Drop for ShowAtPanic {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!(
                "daemon log:\n{}",
                std::fs::read_to_string(&self.0).unwrap_or_default()
            );
        }
    }
}

/// How many times each message id was printed (sent) in `out`.
fn sends(out: &Path) -> HashMap<i64, usize> {
    let text = std::fs::read_to_string(out).unwrap_or_default();
    let mut sent = HashMap::new();
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("Message-ID: <outpost.")
            && let Some(id) = rest.split('@').next().and_then(|i| i.parse().ok())
        {
            *sent.entry(id).or_insert(0) += 1;
        }
    }
    sent
}

#[tokio::test]
async fn a_promoted_synchronous_standby_loses_nothing_and_sends_again_only_what_was_in_flight() {
    const MESSAGES: i64 = 3000;
    let dir = tempfile::tempdir().unwrap();
    let _stop = StopAtEnd(vec![
        dir.path().join("primary/data"),
        dir.path().join("standby/data"),
    ]);
    let (primary, standby) = replicated(dir.path()).await;
    let url = format!(
        "postgres://postgres@127.0.0.1:{},127.0.0.1:{}/postgres?target_session_attrs=read-write",
        primary.port(),
        standby.port()
    );
    let migrate = Command::new(env!("CARGO_BIN_EXE_outpost"))
        .arg("migrate")
        .env("DATABASE_URL", &url)
        .output()
        .unwrap();
    assert!(migrate.status.success(), "{migrate:?}");
    let client = outpost::db::connect(&url).await.unwrap();
    client
        .batch_execute(&format!(
            "SELECT outpost.send_simple_mail('Failover', 'Body ' || g, to_address => 'r' || g || '@example.com')
             FROM generate_series(1, {MESSAGES}) g"
        ))
        .await
        .unwrap();
    let out = dir.path().join("daemon.out");
    let http = common::free_port();
    let _daemon = Daemon(
        Command::new(env!("CARGO_BIN_EXE_outpost"))
            .arg("run")
            .env("DATABASE_URL", &url)
            .env("OUTPOST__EMAIL__BACKEND", "console")
            .env("OUTPOST__EMAIL__FROM", "Tests <tests@example.com>")
            .env("OUTPOST__HTTP__LISTEN", format!("127.0.0.1:{http}"))
            .env("OUTPOST__OPS__LISTEN", "127.0.0.1:0")
            .env("OUTPOST__DISPATCH__LEASE", "5s")
            .env("OUTPOST__DISPATCH__SEND_TIMEOUT", "2s")
            .env("OUTPOST__DISPATCH__RESCUE_INTERVAL", "1s")
            .env("OUTPOST__DISPATCH__POLL_INTERVAL", "200ms")
            .env("OUTPOST__DISPATCH__BATCH_SIZE", "50")
            .env("OUTPOST__HOUSEKEEPING__ENABLED", "false")
            .env("OUTPOST__LOG__LEVEL", "error")
            .stdout(std::fs::File::create(&out).unwrap())
            .stderr(std::fs::File::create(dir.path().join("daemon.err")).unwrap())
            .spawn()
            .unwrap(),
    );
    // Under way: some sent, most not.
    let log = dir.path().join("daemon.err");
    let _show_log = ShowAtPanic(log.clone());
    common::wait_until(
        &client,
        "SELECT count(*) FROM outpost.messages WHERE status = 'sent'",
        Duration::from_secs(60),
        |n| n >= 200,
    )
    .await;
    let before: i64 = common::count(
        &client,
        "SELECT count(*) FROM outpost.messages WHERE status = 'sent'",
    )
    .await;
    assert!(before < MESSAGES, "the drain ended before the failover");
    drop(client);
    let died = Instant::now();
    pg_tool(
        "pg_ctl",
        &[
            "-D",
            dir.path().join("primary/data").to_str().unwrap(),
            "-m",
            "immediate",
            "-w",
            "stop",
        ],
    );
    // While no primary answers, /readyz says the daemon is reconnecting.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let ready = reqwest::get(format!("http://127.0.0.1:{http}/readyz"))
        .await
        .unwrap();
    assert_eq!(ready.status(), reqwest::StatusCode::SERVICE_UNAVAILABLE);
    let body = ready.text().await.unwrap();
    assert!(body.contains("\"database\":\"reconnecting: "), "{body}");
    pg_tool(
        "pg_ctl",
        &[
            "-D",
            dir.path().join("standby/data").to_str().unwrap(),
            "-w",
            "promote",
        ],
    );
    let promoted = Instant::now();
    let promoted_at = chrono::Utc::now();
    let client = outpost::db::connect(&standby.url("postgres"))
        .await
        .unwrap();
    common::wait_until(
        &client,
        "SELECT count(*) FROM outpost.messages WHERE status = 'sent'",
        Duration::from_secs(90),
        |n| n == MESSAGES,
    )
    .await;
    // Every message committed before the failover is there, and sent.
    assert_eq!(
        common::count(&client, "SELECT count(*) FROM outpost.messages").await,
        MESSAGES
    );
    // The first send begun after the promotion: sends begun before it were
    // of messages claimed from the old primary, in flight when it died.
    let first_send: f64 = common::scalar(
        &client,
        "SELECT extract(epoch FROM min(started_at) - $1)::float8 FROM outpost.attempts WHERE started_at > $1",
        &[&promoted_at],
    )
    .await;
    let promote_secs = (promoted - died).as_secs_f64();
    println!(
        "failover: promoted {promote_secs:.2} s after the primary died; the first send begun \
         {first_send:.2} s after the promotion; {before} of {MESSAGES} were sent before"
    );
    assert!(
        first_send < 5.0,
        "the first send came {first_send:.2} s after the promotion"
    );
    // Sent more than once only what was in flight, each flagged as after a crash.
    let printed = sends(&out);
    assert_eq!(printed.len() as i64, MESSAGES, "every message was printed");
    let twice: Vec<i64> = printed
        .iter()
        .filter(|(_, n)| **n > 1)
        .map(|(id, _)| *id)
        .collect();
    let flagged: Vec<i64> = client
        .query(
            "SELECT message_id FROM outpost.attempts WHERE message_id = ANY($1)
             GROUP BY message_id HAVING count(*) FILTER (WHERE outcome IN ('sent', 'unknown')) >= 2
                AND bool_or(outcome = 'unknown')",
            &[&twice],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    println!(
        "failover: {} of {MESSAGES} sent twice, each with an attempt marked unknown",
        twice.len()
    );
    assert_eq!(
        flagged.len(),
        twice.len(),
        "sent twice but not flagged: {twice:?} (flagged {flagged:?})"
    );
    assert!(
        twice.len() <= 100,
        "{} sent twice: more than a claim in flight",
        twice.len()
    );
    // The command line finds the new primary through the same URL:
    // `outpost migrate` has nothing left to apply, `outpost status` reads it.
    for (args, expected) in [
        (&["migrate"][..], "schema is current"),
        (&["status"][..], "email"),
    ] {
        let out = Command::new(env!("CARGO_BIN_EXE_outpost"))
            .args(args)
            .env("DATABASE_URL", &url)
            .output()
            .unwrap();
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(
            out.status.success() && text.contains(expected),
            "{args:?}: {text}"
        );
    }
}
