//! A real SMTP peer for the tests: aiosmtpd (installed by scripts/test into
//! target/test-tools/venv) with a throwaway certificate, STARTTLS or implicit
//! TLS, AUTH required after TLS.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

pub const USER: &str = "outpost";
pub const PASSWORD: &str = "s3cret-pass";

pub struct SmtpPeer {
    pub port: u16,
    /// The AUTH user name the peer accepts.
    pub user: String,
    pub dir: tempfile::TempDir,
    child: Child,
}

/// One message the peer accepted.
#[derive(Debug)]
pub struct Received {
    pub raw: Vec<u8>,
    pub envelope: serde_json::Value,
}

pub fn tools_dir() -> PathBuf {
    std::env::var_os("OUTPOST_TEST_TOOLS")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("target/test-tools"))
}

impl SmtpPeer {
    /// Starts the server; `mode` is `starttls`, `tls` or `plain` (no TLS,
    /// AUTH in plain text).
    pub fn start(mode: &str) -> Self {
        Self::start_with(mode, USER, PASSWORD)
    }

    /// As [`SmtpPeer::start`], accepting only `user` and `password` for AUTH.
    pub fn start_with(mode: &str, user: &str, password: &str) -> Self {
        let python = tools_dir().join("venv/bin/python");
        assert!(
            python.exists(),
            "{} is missing: run ./scripts/test, which installs aiosmtpd",
            python.display()
        );
        let dir = tempfile::tempdir().unwrap();
        let (cert, key) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
        super::self_signed(&cert, &key);
        let outdir = dir.path().join("mail");
        std::fs::create_dir(&outdir).unwrap();
        let port = super::free_port();
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/peers/smtp_server.py");
        let mut child = Command::new(python)
            .arg(script)
            .args([
                "--port",
                &port.to_string(),
                "--mode",
                mode,
                "--user",
                user,
                "--password",
                password,
            ])
            .arg("--cert")
            .arg(&cert)
            .arg("--key")
            .arg(&key)
            .arg("--outdir")
            .arg(&outdir)
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        assert_eq!(line.trim(), "READY", "the SMTP peer did not start");
        Self {
            port,
            user: user.to_owned(),
            dir,
            child,
        }
    }

    pub fn cert_path(&self) -> PathBuf {
        self.dir.path().join("cert.pem")
    }

    /// Configuration overrides pointing Outpost's `[email.smtp]` at this peer.
    pub fn env(&self, use_ssl: bool, password: &str) -> Vec<(String, String)> {
        vec![
            ("OUTPOST__EMAIL__BACKEND".into(), "smtp".into()),
            ("OUTPOST__EMAIL__SMTP__HOST".into(), "127.0.0.1".into()),
            ("OUTPOST__EMAIL__SMTP__PORT".into(), self.port.to_string()),
            ("OUTPOST__EMAIL__SMTP__USERNAME".into(), self.user.clone()),
            ("OUTPOST__EMAIL__SMTP__PASSWORD".into(), password.into()),
            (
                "OUTPOST__EMAIL__SMTP__USE_TLS".into(),
                (!use_ssl).to_string(),
            ),
            ("OUTPOST__EMAIL__SMTP__USE_SSL".into(), use_ssl.to_string()),
            (
                "OUTPOST__EMAIL__SMTP__CA_FILE".into(),
                self.cert_path().display().to_string(),
            ),
            ("OUTPOST__EMAIL__SMTP__TIMEOUT".into(), "10s".into()),
        ]
    }

    /// Every AUTH attempt so far: (user name, password) as the client sent them.
    pub fn auth_attempts(&self) -> Vec<(String, String)> {
        let log = self.dir.path().join("mail/auth.jsonl");
        std::fs::read_to_string(log)
            .unwrap_or_default()
            .lines()
            .map(|line| {
                let v: serde_json::Value = serde_json::from_str(line).unwrap();
                let text = |k: &str| v[k].as_str().unwrap_or_default().to_owned();
                (text("login"), text("password"))
            })
            .collect()
    }

    /// Every message received so far, in order.
    pub fn received(&self) -> Vec<Received> {
        let outdir = self.dir.path().join("mail");
        let mut out = Vec::new();
        for n in 1.. {
            let eml = outdir.join(format!("{n}.eml"));
            if !eml.exists() {
                break;
            }
            let envelope = std::fs::read_to_string(outdir.join(format!("{n}.json"))).unwrap();
            out.push(Received {
                raw: std::fs::read(eml).unwrap(),
                envelope: serde_json::from_str(&envelope).unwrap(),
            });
        }
        out
    }
}

impl Drop for SmtpPeer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
