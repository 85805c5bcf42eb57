//! The systemd unit passes `systemd-analyze verify`, and the daemon speaks
//! the notify protocol: READY=1 once it serves, watchdog pings from the claim
//! loop, RELOADING=1 on SIGHUP, STOPPING=1 on SIGTERM.

use crate::common;

use std::os::unix::net::UnixDatagram;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::TestDb;

#[test]
fn the_unit_file_verifies() {
    let unit = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/systemd/outpost.service"
    ))
    .unwrap();
    for required in [
        "Type=notify",
        "WatchdogSec=",
        "Restart=on-failure",
        "ExecReload=/bin/kill -HUP $MAINPID",
        "TimeoutStopSec=30s",
        "EnvironmentFile=",
        "DynamicUser=yes",
        "ProtectSystem=strict",
        "ProtectHome=yes",
        "PrivateTmp=yes",
        "NoNewPrivileges=yes",
        "CapabilityBoundingSet=\n",
        "RestrictAddressFamilies=",
        "SystemCallFilter=@system-service",
        "LimitNOFILE=65536",
    ] {
        assert!(unit.contains(required), "the unit lacks {required:?}");
    }
    // Verify the unit as installed: the binary at its ExecStart path.
    let dir = tempfile::tempdir().unwrap();
    let installed = unit
        .replace("/usr/local/bin/outpost", env!("CARGO_BIN_EXE_outpost"))
        .replace(
            "WorkingDirectory=/usr/share/outpost",
            &format!("WorkingDirectory={}", dir.path().display()),
        );
    let path = dir.path().join("outpost.service");
    std::fs::write(&path, installed).unwrap();
    let out = Command::new("systemd-analyze")
        .arg("verify")
        .arg(&path)
        .output()
        .expect("systemd-analyze is needed (./scripts/test installs systemd)");
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{said}");
    assert!(
        said.trim().is_empty(),
        "systemd-analyze complained:\n{said}"
    );
}

fn expect(socket: &UnixDatagram, wanted: &str) -> Vec<String> {
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut seen = Vec::new();
    let mut buf = [0u8; 4096];
    while Instant::now() < deadline {
        match socket.recv(&mut buf) {
            Ok(n) => {
                let text = String::from_utf8_lossy(&buf[..n]).into_owned();
                let done = text.lines().any(|l| l == wanted);
                seen.push(text);
                if done {
                    return seen;
                }
            }
            Err(e)
                if e.kind() == std::io::ErrorKind::WouldBlock
                    || e.kind() == std::io::ErrorKind::TimedOut => {}
            Err(e) => panic!("{e}"),
        }
    }
    panic!("no {wanted} from the daemon; got {seen:?}");
}

#[tokio::test]
async fn the_daemon_notifies_systemd() {
    let db = TestDb::new().await;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("notify.sock");
    let socket = UnixDatagram::bind(&path).unwrap();
    socket
        .set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_outpost"))
        .arg("run")
        .env("DATABASE_URL", &db.url)
        .env("OUTPOST__HTTP__LISTEN", "127.0.0.1:0")
        .env("OUTPOST__OPS__LISTEN", "127.0.0.1:0")
        .env("NOTIFY_SOCKET", &path)
        .env("WATCHDOG_USEC", "300000")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let pid = child.id().to_string();
    expect(&socket, "READY=1");
    // Pings keep coming from the claim loop.
    expect(&socket, "WATCHDOG=1");
    expect(&socket, "WATCHDOG=1");
    Command::new("kill").args(["-HUP", &pid]).status().unwrap();
    expect(&socket, "RELOADING=1");
    Command::new("kill").args(["-TERM", &pid]).status().unwrap();
    expect(&socket, "STOPPING=1");
    let deadline = Instant::now() + Duration::from_secs(20);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        assert!(Instant::now() < deadline, "the daemon did not stop");
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(status.success());
}
