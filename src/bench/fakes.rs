//! Peers for the benchmark: an HTTP fake that answers like SendGrid (202 +
//! X-Message-Id) after a set latency and counts sends per outbox id, and an
//! SMTP sink that accepts everything with prompt replies.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::post;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;

/// How often the fake saw each outbox id.
pub type Seen = Arc<Mutex<HashMap<i64, u32>>>;

#[derive(Clone)]
struct FakeState {
    latency: Duration,
    seen: Seen,
}

/// Starts the SendGrid-like fake; returns its address and the per-id counts.
pub async fn http_fake(latency: Duration) -> std::io::Result<(SocketAddr, Seen)> {
    let seen: Seen = Arc::default();
    let state = FakeState {
        latency,
        seen: seen.clone(),
    };
    let app = axum::Router::new()
        .route("/v3/mail/send", post(send))
        .with_state(state);
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    Ok((addr, seen))
}

async fn send(State(state): State<FakeState>, body: Bytes) -> impl IntoResponse {
    if !state.latency.is_zero() {
        tokio::time::sleep(state.latency).await;
    }
    let id = serde_json::from_slice::<serde_json::Value>(&body)
        .ok()
        .and_then(|v| {
            v["personalizations"][0]["custom_args"]["outpost_id"]
                .as_str()?
                .parse::<i64>()
                .ok()
        });
    if let Some(id) = id {
        *state
            .seen
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .entry(id)
            .or_insert(0) += 1;
    }
    (
        StatusCode::ACCEPTED,
        [("x-message-id", format!("bench{}", id.unwrap_or(0)))],
    )
}

/// Starts an SMTP sink on 127.0.0.1 (no TLS, no AUTH); returns its port and
/// a counter of accepted messages.
pub async fn smtp_sink() -> std::io::Result<(u16, Arc<std::sync::atomic::AtomicU64>)> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let port = listener.local_addr()?.port();
    let accepted = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let count = accepted.clone();
    tokio::spawn(async move {
        while let Ok((socket, _)) = listener.accept().await {
            let count = count.clone();
            tokio::spawn(async move {
                let _ = socket.set_nodelay(true);
                let (read, mut write) = socket.into_split();
                let mut lines = BufReader::new(read);
                if write.write_all(b"220 sink ESMTP\r\n").await.is_err() {
                    return;
                }
                let mut line = String::new();
                let mut in_data = false;
                loop {
                    line.clear();
                    match lines.read_line(&mut line).await {
                        Ok(0) | Err(_) => return,
                        Ok(_) => {}
                    }
                    let reply: &[u8] = if in_data {
                        if line == ".\r\n" {
                            in_data = false;
                            count.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                            b"250 2.0.0 queued\r\n"
                        } else {
                            continue;
                        }
                    } else {
                        let upper = line.to_ascii_uppercase();
                        if upper.starts_with("EHLO") {
                            b"250-sink\r\n250-PIPELINING\r\n250 8BITMIME\r\n"
                        } else if upper.starts_with("DATA") {
                            in_data = true;
                            b"354 go ahead\r\n"
                        } else if upper.starts_with("QUIT") {
                            let _ = write.write_all(b"221 bye\r\n").await;
                            return;
                        } else {
                            b"250 ok\r\n"
                        }
                    };
                    if write.write_all(reply).await.is_err() {
                        return;
                    }
                }
            });
        }
    });
    Ok((port, accepted))
}
