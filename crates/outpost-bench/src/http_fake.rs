//! The drain's HTTP peer: answers like SendGrid (202 + X-Message-Id) after a
//! set latency, counts sends per outbox id and how many it answered at once.
//! It scans bodies rather than parsing them: it shares the machine's two
//! cores with the daemon under measurement and should cost as little as a
//! remote peer.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::post;
use outpost_testkit::fakes::Seen;
use tokio::net::TcpListener;

/// Requests the fake is answering now, and the most it ever answered at once.
#[derive(Debug, Default)]
pub struct InFlight {
    now: AtomicU32,
    max: AtomicU32,
}

impl InFlight {
    pub fn max(&self) -> u32 {
        self.max.load(Ordering::Relaxed)
    }
}

#[derive(Clone)]
struct FakeState {
    latency: Duration,
    seen: Seen,
    in_flight: Arc<InFlight>,
}

/// Starts the SendGrid-like fake; returns its address and the per-id counts.
pub async fn http_fake(latency: Duration) -> std::io::Result<(SocketAddr, Seen)> {
    let (addr, seen, _) = http_fake_gauged(latency).await?;
    Ok((addr, seen))
}

/// [`http_fake`], also returning how many requests it answered at once.
pub async fn http_fake_gauged(
    latency: Duration,
) -> std::io::Result<(SocketAddr, Seen, Arc<InFlight>)> {
    let seen: Seen = Arc::default();
    let in_flight = Arc::new(InFlight::default());
    let state = FakeState {
        latency,
        seen: seen.clone(),
        in_flight: in_flight.clone(),
    };
    let app = axum::Router::new()
        .route("/v3/mail/send", post(send))
        .with_state(state);
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    Ok((addr, seen, in_flight))
}

async fn send(State(state): State<FakeState>, body: Bytes) -> impl IntoResponse {
    let now = state.in_flight.now.fetch_add(1, Ordering::Relaxed) + 1;
    state.in_flight.max.fetch_max(now, Ordering::Relaxed);
    if !state.latency.is_zero() {
        tokio::time::sleep(state.latency).await;
    }
    state.in_flight.now.fetch_sub(1, Ordering::Relaxed);
    let id = custom_outpost_id(&body);
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

/// The `outpost_id` custom argument of a SendGrid request body, found by
/// scanning rather than parsing: the fake shares the machine's two cores
/// with the daemon under test and should cost as little as a remote peer.
fn custom_outpost_id(body: &[u8]) -> Option<i64> {
    const KEY: &[u8] = b"\"outpost_id\":\"";
    let at = body.windows(KEY.len()).position(|w| w == KEY)? + KEY.len();
    let rest = &body[at..];
    let end = rest.iter().position(|&b| b == b'"')?;
    std::str::from_utf8(&rest[..end]).ok()?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_read_from_sendgrid_bodies() {
        let body = br#"{"personalizations":[{"to":[{"email":"a@b.c"}],"custom_args":{"outpost_id":"42"}}]}"#;
        assert_eq!(custom_outpost_id(body), Some(42));
        assert_eq!(custom_outpost_id(b"{}"), None);
    }
}
