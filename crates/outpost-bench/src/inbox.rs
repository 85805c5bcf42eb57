//! Inbox mode: one `outpost run` process, `streams` users each with an open
//! `/inbox/stream`, then system messages sent at a fixed rate to random
//! users: the time from sending the statement (its commit included) to the
//! `message` event on that user's stream, and the daemon's resident memory
//! per open stream.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde::Serialize;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::run::{BenchDb, BenchError};
use outpost::db;

/// One inbox run's figures.
#[derive(Debug, Serialize)]
pub struct InboxReport {
    pub mode: &'static str,
    pub streams: usize,
    pub messages: u32,
    pub received: usize,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
    /// Seconds to open every stream (each reads its unread counts).
    pub open_seconds: f64,
    pub daemon_rss_idle_mb: f64,
    pub daemon_rss_streams_mb: f64,
    pub rss_per_stream_kb: f64,
}

/// When each sent message (by its sequence number) arrived on a stream.
type Arrivals = Arc<Mutex<HashMap<u32, Instant>>>;

pub async fn inbox(
    server_url: &str,
    streams: usize,
    messages: u32,
    rate: u32,
) -> Result<InboxReport, BenchError> {
    outpost::tls::install_crypto_provider();
    let bench = BenchDb::create(server_url).await?;
    let client = db::connect(&bench.url).await?;
    client
        .batch_execute(&format!(
            "INSERT INTO outpost.messaging_configs (tenant, push_on_message) VALUES ('bench', false);
             INSERT INTO outpost.recipients (user_id, tenant)
                 SELECT 'u' || i, 'bench' FROM generate_series(0, {n}) i;
             SELECT outpost.send_system_message('u' || i, 'welcome') FROM generate_series(0, {n}) i;",
            n = streams - 1
        ))
        .await?;
    let tokens: Vec<String> = client
        .query(
            "SELECT outpost.inbox_token('u' || i, ttl => '1 hour') FROM generate_series(0, $1::int - 1) i ORDER BY i",
            &[&(streams as i32)],
        )
        .await?
        .iter()
        .map(|r| r.get(0))
        .collect();
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0")
            .map_err(|e| BenchError::Setup(e.to_string()))?;
        l.local_addr()
            .map_err(|e| BenchError::Setup(e.to_string()))?
            .port()
    };
    let addr = format!("127.0.0.1:{port}");
    let mut daemon = tokio::process::Command::new(crate::scale::outpost_exe()?)
        .arg("run")
        .env("DATABASE_URL", &bench.url)
        .env("OUTPOST__HTTP__LISTEN", &addr)
        .env(
            "OUTPOST__HTTP__MAX_CONNECTIONS",
            (streams + 100).to_string(),
        )
        .env("OUTPOST__OPS__ENABLED", "false")
        .env("OUTPOST__HOUSEKEEPING__ENABLED", "false")
        .env("OUTPOST__LOG__LEVEL", "warn")
        .stdout(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| BenchError::Setup(format!("cannot start the daemon: {e}")))?;
    let pid = daemon.id().unwrap_or(0);
    for _ in 0..300 {
        if TcpStream::connect(&addr).await.is_ok() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    let idle = rss_mb(pid);

    let arrivals: Arrivals = Arc::default();
    let opened = Instant::now();
    let (ready_tx, mut ready_rx) = tokio::sync::mpsc::channel::<()>(streams);
    let mut readers = Vec::new();
    for token in tokens {
        let (addr, arrivals, ready) = (addr.clone(), arrivals.clone(), ready_tx.clone());
        readers.push(tokio::spawn(async move {
            let _ = read_stream(&addr, &token, arrivals, ready).await;
        }));
    }
    drop(ready_tx);
    for _ in 0..streams {
        if ready_rx.recv().await.is_none() {
            return Err(BenchError::Setup("a stream failed to open".into()));
        }
    }
    let open_seconds = opened.elapsed().as_secs_f64();
    tokio::time::sleep(Duration::from_secs(2)).await;
    let with_streams = rss_mb(pid);

    let mut sent = HashMap::new();
    let every = Duration::from_secs_f64(1.0 / f64::from(rate.max(1)));
    let mut tick = tokio::time::interval(every);
    for seq in 0..messages {
        tick.tick().await;
        let user = format!("u{}", rand::random_range(0..streams));
        let body = format!("bench {seq}");
        let at = Instant::now();
        client
            .execute(
                "SELECT outpost.send_system_message($1, $2)",
                &[&user, &body],
            )
            .await?;
        sent.insert(seq, at);
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    let arrived = arrivals.lock().unwrap_or_else(|e| e.into_inner()).clone();
    let mut latencies: Vec<f64> = sent
        .iter()
        .filter_map(|(seq, at)| {
            arrived
                .get(seq)
                .map(|t| t.duration_since(*at).as_secs_f64() * 1e3)
        })
        .collect();
    latencies.sort_by(f64::total_cmp);
    let pick = |q: f64| {
        latencies
            .get(((latencies.len() as f64 - 1.0) * q).round() as usize)
            .copied()
            .unwrap_or(f64::NAN)
    };
    let report = InboxReport {
        mode: "inbox",
        streams,
        messages,
        received: latencies.len(),
        p50_ms: pick(0.5),
        p99_ms: pick(0.99),
        max_ms: latencies.last().copied().unwrap_or(f64::NAN),
        open_seconds,
        daemon_rss_idle_mb: idle,
        daemon_rss_streams_mb: with_streams,
        rss_per_stream_kb: (with_streams - idle) * 1024.0 / streams as f64,
    };
    for r in readers {
        r.abort();
    }
    if pid != 0 {
        let _ = std::process::Command::new("kill")
            .args(["-TERM", &pid.to_string()])
            .status();
    }
    let _ = daemon.wait().await;
    drop(client);
    bench.drop_db().await?;
    Ok(report)
}

/// The resident memory of process `pid`, in MB.
fn rss_mb(pid: u32) -> f64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse::<f64>().ok())
        })
        .map_or(f64::NAN, |kb| kb / 1024.0)
}

/// Opens one stream over a plain socket, says when its first event came,
/// and records when each `bench <seq>` message arrives.
async fn read_stream(
    addr: &str,
    token: &str,
    arrivals: Arrivals,
    ready: tokio::sync::mpsc::Sender<()>,
) -> std::io::Result<()> {
    let mut socket = TcpStream::connect(addr).await?;
    socket.set_nodelay(true)?;
    let request = format!(
        "GET /inbox/stream HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {token}\r\nAccept: text/event-stream\r\n\r\n"
    );
    socket.write_all(request.as_bytes()).await?;
    let mut buffer = vec![0u8; 4096];
    let mut text = String::new();
    let mut ready = Some(ready);
    const MARK: &str = "\"body\":\"bench ";
    loop {
        let n = socket.read(&mut buffer).await?;
        if n == 0 {
            return Ok(());
        }
        let now = Instant::now();
        text.push_str(&String::from_utf8_lossy(&buffer[..n]));
        if let Some(r) = ready.take_if(|_| text.contains("event: unread")) {
            let _ = r.send(()).await;
        }
        while let Some(at) = text.find(MARK) {
            let rest = &text[at + MARK.len()..];
            let Some(end) = rest.find('"') else { break };
            if let Ok(seq) = rest[..end].parse::<u32>() {
                arrivals
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .entry(seq)
                    .or_insert(now);
            }
            text.drain(..at + MARK.len() + end);
        }
        let keep = text.len().saturating_sub(MARK.len());
        if text.len() > 8192 && !text.contains(MARK) && text.is_char_boundary(keep) {
            text.drain(..keep);
        }
    }
}
