//! The drain's peer in a process of its own (`outpost-bench peer`): the HTTP
//! fake or the SMTP sink, plus a `/stats` endpoint. Out of process, its
//! sockets and buffers stay out of the daemon's peak RSS, as a real
//! provider's would.

use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;

use axum::Json;
use axum::extract::State;
use axum::routing::get;
use serde::{Deserialize, Serialize};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::net::TcpListener;
use tokio::process::{Child, Command};

use crate::http_fake::{self, InFlight};
use crate::run::BenchError;
use outpost_testkit::fakes::{self, Seen};

/// Which peer to serve.
#[derive(Debug, Clone, Copy)]
pub enum PeerKind {
    /// The SendGrid-like fake, answering after this latency.
    Http(Duration),
    Smtp,
}

/// What the peer received.
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize)]
pub struct PeerStats {
    /// Distinct outbox ids received.
    pub received: u64,
    /// Receipts beyond the first, over all ids.
    pub duplicates: u64,
    /// The most HTTP requests answered at once (HTTP only).
    pub max_in_flight: Option<u32>,
}

impl PeerStats {
    pub fn of(seen: &Seen, in_flight: Option<&InFlight>) -> Self {
        let seen = seen
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        Self {
            received: seen.len() as u64,
            duplicates: seen.values().map(|&c| u64::from(c.saturating_sub(1))).sum(),
            max_in_flight: in_flight.map(InFlight::max),
        }
    }
}

type StatsState = (Seen, Option<Arc<InFlight>>);

/// Serves `kind` until killed, after printing `LISTEN <address>` and
/// `STATS <address>` on stdout.
pub async fn serve(kind: PeerKind) -> std::io::Result<()> {
    let (listen, state): (String, StatsState) = match kind {
        PeerKind::Http(latency) => {
            let (addr, seen, gauge) = http_fake::http_fake_gauged(latency).await?;
            (addr.to_string(), (seen, Some(gauge)))
        }
        PeerKind::Smtp => {
            let (port, seen) = fakes::smtp_sink().await?;
            (format!("127.0.0.1:{port}"), (seen, None))
        }
    };
    let app = axum::Router::new()
        .route("/stats", get(stats))
        .with_state(state);
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    {
        use std::io::Write as _;
        let mut out = std::io::stdout().lock();
        writeln!(out, "LISTEN {listen}\nSTATS {}", listener.local_addr()?)?;
        out.flush()?;
    }
    axum::serve(listener, app).await
}

async fn stats(State((seen, gauge)): State<StatsState>) -> Json<PeerStats> {
    Json(PeerStats::of(&seen, gauge.as_deref()))
}

/// A peer process started for one run; killed when dropped.
pub struct PeerProcess {
    _child: Child,
    /// Where the peer listens (`host:port`).
    pub listen: String,
    stats: String,
}

impl PeerProcess {
    /// Starts `outpost-bench peer` (this executable) and waits for its addresses.
    pub async fn start(kind: PeerKind) -> Result<Self, BenchError> {
        let setup = |e: std::io::Error| BenchError::Setup(format!("bench peer: {e}"));
        let exe = std::env::current_exe().map_err(setup)?;
        let mut command = Command::new(exe);
        command.arg("peer");
        match kind {
            PeerKind::Http(latency) => command.args([
                "--kind",
                "http",
                "--latency",
                &format!("{}ms", latency.as_millis()),
            ]),
            PeerKind::Smtp => command.args(["--kind", "smtp"]),
        };
        let mut child = command
            .stdout(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .map_err(setup)?;
        let stdout = child
            .stdout
            .take()
            .ok_or_else(|| BenchError::Setup("bench peer: no stdout".into()))?;
        let mut lines = BufReader::new(stdout).lines();
        let mut next = async |prefix: &str| -> Result<String, BenchError> {
            let line = lines.next_line().await.map_err(setup)?.unwrap_or_default();
            line.strip_prefix(prefix)
                .map(str::to_owned)
                .ok_or_else(|| BenchError::Setup(format!("bench peer said {line:?}")))
        };
        let listen = next("LISTEN ").await?;
        let stats = next("STATS ").await?;
        Ok(Self {
            _child: child,
            listen,
            stats,
        })
    }

    /// What the peer has received so far.
    pub async fn stats(&self) -> Result<PeerStats, BenchError> {
        let failed = |e: reqwest::Error| BenchError::Setup(format!("bench peer stats: {e}"));
        reqwest::get(format!("http://{}/stats", self.stats))
            .await
            .map_err(failed)?
            .json()
            .await
            .map_err(failed)
    }
}
