//! `outpost run` as a child process sending e-mail through an HTTP fake of
//! SendGrid, for the crash and outage tests.

use std::process::{Child, Command, Stdio};

/// Kills the daemon when the test ends, however it ends.
pub struct Daemon(pub Child);

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts `outpost run` on `database_url` with SendGrid at `fake`, a 3 s lease
/// (2 s send timeout, 1 s rescue interval), housekeeping off, and `extra` settings.
pub fn start(database_url: &str, fake: &str, extra: &[(&str, &str)]) -> Daemon {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_outpost"));
    cmd.arg("run")
        .env("DATABASE_URL", database_url)
        .env("OUTPOST__EMAIL__BACKEND", "sendgrid")
        .env("OUTPOST__EMAIL__SENDGRID__API_KEY", "SG.test")
        .env("OUTPOST__EMAIL__SENDGRID__BASE_URL", fake)
        .env("OUTPOST__EMAIL__FROM", "Tests <tests@example.com>")
        .env("OUTPOST__DISPATCH__LEASE", "3s")
        .env("OUTPOST__DISPATCH__SEND_TIMEOUT", "2s")
        .env("OUTPOST__DISPATCH__RESCUE_INTERVAL", "1s")
        .env("OUTPOST__HOUSEKEEPING__ENABLED", "false")
        .env("OUTPOST__OPS__LISTEN", "127.0.0.1:0")
        .env("OUTPOST__LOG__LEVEL", "error")
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    for (key, value) in extra {
        cmd.env(key, value);
    }
    Daemon(cmd.spawn().unwrap())
}

/// Starts `outpost run` on `database_url` with `env` (and housekeeping off),
/// its stderr — the logs — written to `log`, for tests that read the logs.
pub fn start_logged(database_url: &str, env: &[(String, String)], log: &std::path::Path) -> Daemon {
    start_limited(database_url, env, log, None)
}

/// As [`start_logged`], under a shell `ulimit` (such as `-n 1024`, or
/// `-S -n 1024` for the soft limit alone) when one is given.
pub fn start_limited(
    database_url: &str,
    env: &[(String, String)],
    log: &std::path::Path,
    ulimit: Option<&str>,
) -> Daemon {
    let bin = env!("CARGO_BIN_EXE_outpost");
    let mut cmd = match ulimit {
        Some(limit) => {
            let mut c = Command::new("bash");
            c.arg("-c")
                .arg(format!("ulimit {limit} && exec \"$0\" run"))
                .arg(bin);
            c
        }
        None => {
            let mut c = Command::new(bin);
            c.arg("run");
            c
        }
    };
    cmd.env_remove("RUST_LOG")
        .env("DATABASE_URL", database_url)
        .env("OUTPOST__HOUSEKEEPING__ENABLED", "false")
        .env("OUTPOST__DISPATCH__POLL_INTERVAL", "200ms")
        .env("OUTPOST__OPS__LISTEN", "127.0.0.1:0")
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(log).unwrap());
    for (key, value) in env {
        cmd.env(key, value);
    }
    Daemon(cmd.spawn().unwrap())
}

/// Waits up to 30 s until none of `ids` is queued or sending.
pub async fn settled(client: &tokio_postgres::Client, ids: &[i64]) {
    for _ in 0..300 {
        let busy: i64 = client
            .query_one(
                "SELECT count(*) FROM outpost.messages WHERE id = ANY($1) AND status IN ('queued', 'sending')",
                &[&ids],
            )
            .await
            .unwrap()
            .get(0);
        if busy == 0 {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("messages {ids:?} were not delivered within 30 s");
}
