//! The rescuer: periodically returns messages whose lease expired to the
//! queue and expires overdue ones, so no row stays `sending` or `queued` forever.

use std::sync::Arc;

use tokio_util::sync::CancellationToken;

use super::Dispatcher;

/// Runs a rescue pass every `rescue_interval` until `shutdown`.
pub async fn run(dispatcher: Arc<Dispatcher>, shutdown: CancellationToken) {
    let mut ticker = tokio::time::interval(dispatcher.settings().rescue_interval);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = ticker.tick() => {}
            () = shutdown.cancelled() => return,
        }
        match dispatcher.rescue().await {
            Ok(r) if r.requeued + r.failed + r.expired > 0 => tracing::info!(
                requeued = r.requeued,
                failed = r.failed,
                expired = r.expired,
                "rescuer pass"
            ),
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "rescuer pass failed; will retry"),
        }
    }
}
