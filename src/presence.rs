//! The daemons' heartbeats: every running daemon upserts its row of
//! `outpost.daemons` (worker, host, pid, version, its providers' circuit
//! states) every few seconds and deletes it on a clean stop, so the console
//! shows which daemons are alive wherever it runs.

use std::sync::Arc;
use std::time::Duration;

use serde_json::json;
use tokio_util::sync::CancellationToken;

use crate::console::queries;
use crate::db::Pg;
use crate::dispatch::Dispatcher;

/// How often a daemon writes its heartbeat.
pub const INTERVAL: Duration = Duration::from_secs(10);

fn host() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_owned())
        .unwrap_or_else(|_| "localhost".to_owned())
}

/// Writes one heartbeat now.
pub async fn beat(dispatcher: &Dispatcher) -> Result<(), crate::db::DbError> {
    let circuits: Vec<serde_json::Value> = dispatcher
        .circuits()
        .into_iter()
        .map(|(provider, circuit)| {
            json!({
                "provider": provider,
                "state": circuit.as_str(),
                "retry_in_ms": circuit.retry_in().map(|d| d.as_millis() as u64),
            })
        })
        .collect();
    let client = dispatcher.pool().get().await?;
    client
        .pg_execute(
            queries::DAEMON_BEAT,
            &[
                &dispatcher.worker(),
                &host(),
                &(std::process::id() as i32),
                &env!("CARGO_PKG_VERSION"),
                &serde_json::Value::Array(circuits),
            ],
        )
        .await?;
    Ok(())
}

/// Beats every [`INTERVAL`] until `stop`, then removes this daemon's row.
pub async fn run(dispatcher: Arc<Dispatcher>, stop: CancellationToken) {
    let mut ticks = tokio::time::interval(INTERVAL);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = ticks.tick() => {
                if let Err(e) = beat(&dispatcher).await {
                    tracing::warn!(error = %e, "cannot write the daemon heartbeat");
                }
            }
            () = stop.cancelled() => break,
        }
    }
    if let Ok(client) = dispatcher.pool().get().await
        && let Err(e) = client
            .pg_execute(queries::DAEMON_GONE, &[&dispatcher.worker()])
            .await
    {
        tracing::debug!(error = %e, "cannot remove the daemon heartbeat");
    }
}
