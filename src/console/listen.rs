//! Serving the console on its own listener, and the URL a browser opens.

use std::net::SocketAddr;

use tokio_util::sync::CancellationToken;

use super::{ConsoleState, router};

/// Serves the console on `listener` until `shutdown`.
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: ConsoleState,
    limits: crate::http::server::Limits,
    shutdown: CancellationToken,
) -> std::io::Result<()> {
    crate::http::serve(listener, router(state), limits, shutdown).await
}

/// Serves one console over several databases' `states` (the first's users
/// and sessions for all) until `shutdown`.
pub async fn serve_databases(
    listener: tokio::net::TcpListener,
    states: Vec<ConsoleState>,
    limits: crate::http::server::Limits,
    shutdown: CancellationToken,
) -> std::io::Result<()> {
    crate::http::serve(listener, super::routers(states), limits, shutdown).await
}

/// The URL a browser opens for a listener address.
pub fn url_for(addr: SocketAddr) -> String {
    let host = match addr.ip() {
        ip if ip.is_unspecified() => "127.0.0.1".to_owned(),
        std::net::IpAddr::V6(ip) => format!("[{ip}]"),
        ip => ip.to_string(),
    };
    format!("http://{host}:{}/", addr.port())
}
