//! `outpost run`: the daemon until SIGTERM or SIGINT (a second signal exits
//! at once), with templates reloaded on SIGHUP.

use anyhow::Result;
use outpost::config::Config;
use outpost::daemon::{self, Daemon};
use tokio_util::sync::CancellationToken;

/// Cancels the returned token on SIGINT or SIGTERM; a second signal exits at once.
pub(crate) fn shutdown_on_signals() -> CancellationToken {
    let token = CancellationToken::new();
    let cancel = token.clone();
    tokio::spawn(async move {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(s) => s,
                Err(e) => {
                    tracing::error!(error = %e, "cannot listen for SIGTERM");
                    return;
                }
            };
        for round in 0..2 {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
            if round == 0 {
                tracing::info!(
                    "shutting down: finishing in-flight messages (signal again to stop at once)"
                );
                cancel.cancel();
            } else {
                tracing::warn!("second signal: exiting now; unfinished leases will be rescued");
                std::process::exit(130);
            }
        }
    });
    token
}

pub(crate) async fn run(config: &Config, migrate_first: bool) -> Result<()> {
    if migrate_first {
        super::migrate::migrate_all(config).await?;
    }
    for warning in config.warnings() {
        tracing::warn!("{warning}");
    }
    let shutdown = shutdown_on_signals();
    reloaded_on_sighup(config)?
        .run_until_stopped(shutdown)
        .await?;
    Ok(())
}

/// The daemon, its templates (the channels' and the console's) reloaded on
/// SIGHUP (the reloader is started here, for the daemon's lifetime).
pub(crate) fn reloaded_on_sighup(config: &Config) -> Result<Daemon> {
    let daemon = Daemon::build(config)?;
    daemon::reload_on_sighup(daemon.templates().clone());
    Ok(daemon)
}
