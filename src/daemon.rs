//! `outpost run`: the dispatcher, its LISTEN connection and the rescuer,
//! sharing one pool and one shutdown signal.

use std::sync::Arc;

use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use crate::channel::Channels;
use crate::channel::console::ConsoleChannel;
use crate::config::{Backend, Config};
use crate::db::{self, DbError, migrate};
use crate::dispatch::listener::{self, ListenState};
use crate::dispatch::runner::{self, RunReport};
use crate::dispatch::{Dispatcher, rescuer};
use crate::message::Kind;

/// Why the daemon could not start.
#[derive(Debug, thiserror::Error)]
pub enum DaemonError {
    #[error(transparent)]
    Db(#[from] DbError),
    #[error(transparent)]
    Migrate(#[from] migrate::MigrateError),
    #[error(
        "the database schema is not current (pending migrations: {0}); run `outpost migrate` first"
    )]
    Pending(String),
}

/// The channels the configuration names, one default per kind.
pub fn channels_from_config(config: &Config) -> Channels {
    let console = Arc::new(ConsoleChannel::stdout(config.email_from.clone()));
    let mut channels = Channels::new();
    for kind in Kind::ALL {
        match config.backends.get(&kind) {
            Some(Backend::Console) | None => channels.register(kind, console.clone(), true),
        }
    }
    channels
}

/// Runs until `shutdown` is cancelled, then finishes or releases in-flight
/// messages within the grace period.
pub async fn run(
    config: &Config,
    channels: Channels,
    shutdown: CancellationToken,
) -> Result<RunReport, DaemonError> {
    let pool = db::pool(&config.database_url, config.pool_size)?;
    {
        let client = pool.get().await.map_err(DbError::from)?;
        let pending = migrate::pending(&client).await?;
        if !pending.is_empty() {
            return Err(DaemonError::Pending(pending.join(", ")));
        }
    }
    let worker = Dispatcher::default_worker_name();
    let dispatcher = Arc::new(Dispatcher::new(pool, config, channels, worker.clone()));
    tracing::info!(%worker, "outpost dispatcher started");

    let wake = Arc::new(Notify::new());
    let background = shutdown.child_token();
    let listen = tokio::spawn(listener::listen(
        config.database_url.clone(),
        wake.clone(),
        Arc::new(ListenState::default()),
        background.clone(),
    ));
    let rescue = tokio::spawn(rescuer::run(dispatcher.clone(), background.clone()));

    let report = runner::run(dispatcher, wake, shutdown).await;
    background.cancel();
    let _ = listen.await;
    let _ = rescue.await;
    tracing::info!(
        claimed = report.claimed,
        released = report.released,
        "outpost dispatcher stopped"
    );
    Ok(report)
}
