//! Prism, validating requests against a vendor's OpenAPI spec on 127.0.0.1
//! (installed by scripts/test under target/test-tools).

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Stops Prism when dropped.
pub struct Prism(Child);

impl Drop for Prism {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts `prism mock` on `spec`; returns the guard and its base URL.
pub fn start(spec: &Path) -> (Prism, String) {
    let prism = super::smtp::tools_dir().join("prism/node_modules/.bin/prism");
    assert!(
        prism.exists(),
        "{} is missing: run ./scripts/test, which installs Prism",
        prism.display()
    );
    let port = super::free_port();
    // Prism logs each request's violations: kept for whoever debugs a failure.
    let log = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("prism-{port}.log"));
    eprintln!("Prism log: {}", log.display());
    let log = std::fs::File::create(log).unwrap();
    let child = Command::new("node")
        .arg(&prism)
        .args(["mock", "-h", "127.0.0.1", "-p", &port.to_string()])
        .arg(spec)
        .stdout(Stdio::from(log.try_clone().unwrap()))
        .stderr(Stdio::from(log))
        .spawn()
        .unwrap();
    let guard = Prism(child);
    let deadline = Instant::now() + Duration::from_secs(120);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "Prism did not start");
        std::thread::sleep(Duration::from_millis(200));
    }
    (guard, format!("http://127.0.0.1:{port}"))
}
