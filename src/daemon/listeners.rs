//! The daemon's three HTTP listeners, each behind `http::server`'s accept
//! loop and limits: the webhook port providers reach (`[http]`), the
//! operator console (`[console]`) and the operations port with health,
//! readiness and metrics only (`[ops]`). Each is bound before the daemon
//! reports ready; a port that cannot be bound stops the start.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use super::DaemonError;
use crate::config::Config;
use crate::descriptors::Caps;
use crate::http::{self, AppState, server::Limits};
use crate::render::Templates;

/// The operations listener's header and keep-alive timeouts.
const OPS_TIMEOUT: Duration = Duration::from_secs(10);

/// Binds and serves every enabled listener until `stop`, within `caps`.
pub async fn start(
    config: &Config,
    databases: &[crate::config::NamedDatabase],
    caps: Caps,
    state: AppState,
    templates: Arc<Templates>,
    stop: CancellationToken,
) -> Result<Vec<JoinHandle<()>>, DaemonError> {
    let mut served = Vec::new();
    if config.http.enabled {
        let (listener, addr) = bind("http.listen", config.http.listen)?;
        let router = http::router(state.clone(), config.http.request_timeout);
        let limits = Limits {
            max_connections: caps.http,
            ..Limits::from(&config.http)
        };
        tracing::info!(%addr, max_connections = caps.http, "HTTP server listening");
        served.push(spawn("HTTP server", listener, router, limits, stop.clone()));
    }
    if config.ops.enabled {
        let (listener, addr) = bind("ops.listen", config.ops.listen)?;
        let router = http::ops_router(state, config.http.request_timeout);
        let limits = Limits {
            header_timeout: OPS_TIMEOUT,
            keep_alive_timeout: OPS_TIMEOUT,
            max_connections: caps.ops,
        };
        tracing::info!(%addr, max_connections = caps.ops, "operations listener (health, readiness, metrics) listening");
        served.push(spawn(
            "operations listener",
            listener,
            router,
            limits,
            stop.clone(),
        ));
    }
    if config.console.enabled {
        let (listener, addr) = bind("console.listen", config.console.listen)?;
        let state = crate::console::ConsoleState::new(
            crate::pools::open(config, crate::pools::Purpose::Console)?,
            config,
            templates,
        );
        // Several databases: one state each, switched by a cookie, the
        // first's users and sessions for all.
        let mut states = Vec::new();
        if databases.len() > 1 {
            let names: Vec<String> = databases.iter().map(|d| d.name.clone()).collect();
            for (i, database) in databases.iter().enumerate() {
                // The first is the home database, whose pool `state` holds.
                let pool = match i {
                    0 => state.home.clone(),
                    _ => crate::pools::open(
                        &config.for_database(database),
                        crate::pools::Purpose::Console,
                    )?,
                };
                states.push(state.showing(&database.name, pool, names.clone()));
            }
        } else {
            states.push(state);
        }
        let limits = Limits {
            max_connections: caps.console,
            ..Limits::from(&config.console)
        };
        tracing::info!(url = %crate::console::url_for(addr), max_connections = caps.console, "operator console listening");
        served.push(tokio::spawn(async move {
            if let Err(e) = crate::console::serve_databases(listener, states, limits, stop).await {
                tracing::error!(error = %e, "console stopped");
            }
        }));
    }
    Ok(served)
}

fn bind(key: &'static str, addr: SocketAddr) -> Result<(TcpListener, SocketAddr), DaemonError> {
    let listen_error = |source| DaemonError::Listen { key, addr, source };
    let listener = http::server::bind(addr).map_err(listen_error)?;
    let bound = listener.local_addr().map_err(listen_error)?;
    Ok((listener, bound))
}

fn spawn(
    name: &'static str,
    listener: TcpListener,
    router: axum::Router,
    limits: Limits,
    stop: CancellationToken,
) -> JoinHandle<()> {
    tokio::spawn(async move {
        if let Err(e) = http::serve(listener, router, limits, stop).await {
            tracing::error!(error = %e, "{name} stopped");
        }
    })
}
