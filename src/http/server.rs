//! The accept loop: at most `max_connections` connections at once (the rest
//! wait in the listen backlog), each served by hyper's HTTP/1 with a header
//! read timeout, and closed after `keep_alive_timeout` without a request
//! being handled. Hostile clients that open sockets and stop cost a slot for
//! a bounded time, never a file descriptor for ever.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::extract::ConnectInfo;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Notify, Semaphore};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tower::ServiceExt;

/// The connection-level limits, from `[http]`, `[console]` or `[ops]`.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub header_timeout: Duration,
    pub keep_alive_timeout: Duration,
    pub max_connections: usize,
}

impl From<&crate::config::HttpSettings> for Limits {
    fn from(h: &crate::config::HttpSettings) -> Self {
        Self {
            header_timeout: h.header_timeout,
            keep_alive_timeout: h.keep_alive_timeout,
            max_connections: h.max_connections,
        }
    }
}

impl From<&crate::config::ConsoleSettings> for Limits {
    fn from(c: &crate::config::ConsoleSettings) -> Self {
        Self {
            header_timeout: c.header_timeout,
            keep_alive_timeout: c.keep_alive_timeout,
            max_connections: c.max_connections,
        }
    }
}

/// Connections the kernel may queue, complete, for a listener whose cap is
/// reached (the kernel lowers it to `net.core.somaxconn`); queued ones hold
/// no descriptor of ours.
pub const BACKLOG: u32 = 1024;

/// A listener on `addr` with a [`BACKLOG`]-deep queue.
pub fn bind(addr: SocketAddr) -> std::io::Result<TcpListener> {
    let socket = if addr.is_ipv4() {
        tokio::net::TcpSocket::new_v4()?
    } else {
        tokio::net::TcpSocket::new_v6()?
    };
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(BACKLOG)
}

/// Serves `router` on `listener` until `shutdown`, then lets the open
/// connections finish their requests.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    limits: Limits,
    shutdown: CancellationToken,
) -> std::io::Result<()> {
    let slots = Arc::new(Semaphore::new(limits.max_connections));
    let connections = TaskTracker::new();
    loop {
        let slot = tokio::select! {
            slot = slots.clone().acquire_owned() => slot.expect("the semaphore is never closed"),
            () = shutdown.cancelled() => break,
        };
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    // Out of file descriptors or similar: wait, never spin.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
            () = shutdown.cancelled() => break,
        };
        let _ = stream.set_nodelay(true);
        let router = router.clone();
        let stop = shutdown.clone();
        connections.spawn(async move {
            connection(stream, peer, router, limits, stop).await;
            drop(slot);
        });
    }
    connections.close();
    connections.wait().await;
    Ok(())
}

/// When the connection last finished a request, and how many it is handling.
struct Activity {
    idle_since: Mutex<Instant>,
    in_flight: AtomicUsize,
    /// Woken when a request finishes.
    finished: Notify,
}

impl Activity {
    fn start(&self) {
        self.in_flight.fetch_add(1, Ordering::SeqCst);
    }

    fn finish(&self) {
        *self.idle_since.lock().unwrap_or_else(|e| e.into_inner()) = Instant::now();
        self.in_flight.fetch_sub(1, Ordering::SeqCst);
        self.finished.notify_one();
    }

    /// When the connection becomes too long idle, if no request is in flight.
    fn deadline(&self, keep_alive: Duration) -> Option<Instant> {
        (self.in_flight.load(Ordering::SeqCst) == 0)
            .then(|| *self.idle_since.lock().unwrap_or_else(|e| e.into_inner()) + keep_alive)
    }
}

async fn connection(
    stream: TcpStream,
    peer: SocketAddr,
    router: Router,
    limits: Limits,
    stop: CancellationToken,
) {
    let activity = Arc::new(Activity {
        idle_since: Mutex::new(Instant::now()),
        in_flight: AtomicUsize::new(0),
        finished: Notify::new(),
    });
    let tracked = activity.clone();
    let service = hyper::service::service_fn(move |mut request: hyper::Request<Incoming>| {
        // Handlers that count per client address read it as axum's ConnectInfo.
        request.extensions_mut().insert(ConnectInfo(peer));
        let router = router.clone();
        let activity = tracked.clone();
        activity.start();
        async move {
            let response = router.oneshot(request).await;
            activity.finish();
            response
        }
    });
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_timeout)
        .keep_alive(true);
    let conn = builder.serve_connection(TokioIo::new(stream), service);
    tokio::pin!(conn);
    let mut closing = false;
    loop {
        let deadline = activity.deadline(limits.keep_alive_timeout);
        tokio::select! {
            result = conn.as_mut() => {
                if let Err(e) = result {
                    tracing::debug!(error = %e, "HTTP connection ended with an error");
                }
                return;
            }
            () = stop.cancelled(), if !closing => {
                closing = true;
                conn.as_mut().graceful_shutdown();
            }
            () = activity.finished.notified(), if !closing => {}
            () = sleep_until(deadline), if !closing => {
                if activity.deadline(limits.keep_alive_timeout).is_some_and(|d| d <= Instant::now()) {
                    closing = true;
                    conn.as_mut().graceful_shutdown();
                }
            }
        }
    }
}

/// Sleeps until `deadline`, or for ever without one.
async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}
