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
        .env("OUTPOST__LOG__LEVEL", "error")
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    for (key, value) in extra {
        cmd.env(key, value);
    }
    Daemon(cmd.spawn().unwrap())
}
