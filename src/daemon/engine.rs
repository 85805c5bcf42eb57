//! One database's side of the daemon: its pool, its dispatcher (sharing the
//! first database's breakers and kind slots), its LISTEN connection, rescuer,
//! housekeeping, presence and queue gauges, every task inside a `database`
//! span so that its logs carry the database's name, and its metrics labelled
//! with it when the daemon serves several.

use std::sync::Arc;

use tokio::sync::Notify;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use super::DaemonError;
use crate::channel::Channels;
use crate::config::{Config, NamedDatabase};
use crate::db::{DbError, migrate};
use crate::dispatch::listener::{self, ListenState};
use crate::dispatch::runner::{self, RunReport};
use crate::dispatch::{Dispatcher, rescuer};
use crate::metrics::Metrics;

/// A database the daemon serves, ready to run.
pub struct Engine {
    pub name: String,
    /// The configuration serving this database alone.
    pub config: Config,
    pub dispatcher: Arc<Dispatcher>,
    pub listen: Arc<ListenState>,
    /// Its view of the process's metrics.
    pub metrics: Arc<Metrics>,
    /// The URL past any pooler, for LISTEN (`None`: the dispatcher polls).
    pub direct: Option<String>,
    wake: Arc<Notify>,
}

/// An engine's background tasks, once started.
pub struct Running {
    tasks: Vec<JoinHandle<()>>,
}

impl Engine {
    /// Opens `database`'s pool and checks its schema is current; its
    /// dispatcher shares `first`'s breakers and kind slots when given (and
    /// its metrics are then labelled with its name).
    pub async fn open(
        config: &Config,
        database: &NamedDatabase,
        channels: impl FnOnce(&Config) -> Result<Channels, DaemonError>,
        worker: &str,
        metrics: &Arc<Metrics>,
        first: Option<&Engine>,
    ) -> Result<Self, DaemonError> {
        let metrics = if config.databases.len() > 1 {
            Arc::new(metrics.in_database(&database.name))
        } else {
            metrics.clone()
        };
        let one = config.for_database(database);
        let pool = crate::pools::open(&one, crate::pools::Purpose::Dispatch)?;
        {
            let client = pool.get().await.map_err(DbError::from)?;
            let pending = migrate::pending(&client).await?;
            if !pending.is_empty() {
                return Err(DaemonError::Pending(pending.join(", ")));
            }
        }
        let mut dispatcher = Dispatcher::new(pool, &one, channels(&one)?, worker.to_owned())
            .with_metrics(metrics.clone());
        if let Some(first) = first {
            dispatcher = dispatcher.sharing_limits_of(&first.dispatcher);
        }
        Ok(Self {
            name: database.name.clone(),
            direct: crate::pools::direct_url(&one).map(str::to_owned),
            config: one,
            dispatcher: Arc::new(dispatcher),
            listen: Arc::default(),
            metrics,
            wake: Arc::new(Notify::new()),
        })
    }

    /// Starts its LISTEN connection (handing inbox payloads to `notices`),
    /// rescuer, housekeeping, presence and queue gauges, which end on
    /// `background`.
    pub fn start(
        &self,
        notices: Option<tokio::sync::broadcast::Sender<String>>,
        background: &CancellationToken,
    ) -> Running {
        let span = tracing::info_span!("database", database = %self.name);
        let mut tasks = Vec::new();
        if let Some(url) = &self.direct {
            tasks.push(tokio::spawn(
                listener::listen(
                    url.clone(),
                    self.wake.clone(),
                    self.listen.clone(),
                    notices,
                    background.clone(),
                )
                .instrument(span.clone()),
            ));
        }
        tasks.push(tokio::spawn(
            rescuer::run(self.dispatcher.clone(), background.clone()).instrument(span.clone()),
        ));
        if let Some(settings) = self.config.housekeeping.clone() {
            tasks.push(tokio::spawn(
                crate::housekeeping::run(
                    self.dispatcher.pool().clone(),
                    self.dispatcher.worker().to_owned(),
                    Arc::new(settings),
                    background.clone(),
                )
                .instrument(span.clone()),
            ));
        }
        tasks.push(tokio::spawn(
            crate::presence::run(self.dispatcher.clone(), background.clone())
                .instrument(span.clone()),
        ));
        tasks.push(tokio::spawn(
            crate::metrics::refresh::run(
                self.direct
                    .clone()
                    .unwrap_or_else(|| self.config.database_url.clone()),
                self.direct.is_some(),
                self.metrics.clone(),
                self.config.ops.refresh_interval,
                background.clone(),
            )
            .instrument(span.clone()),
        ));
        Running { tasks }
    }

    /// Its claim loop, until `shutdown` (then it finishes or releases what
    /// it holds).
    pub async fn run(&self, shutdown: &CancellationToken) -> RunReport {
        let span = tracing::info_span!("database", database = %self.name);
        runner::run(self.dispatcher.clone(), self.wake.clone(), shutdown.clone())
            .instrument(span)
            .await
    }
}

impl Running {
    /// Waits for the background tasks.
    pub async fn join(self) {
        for task in self.tasks {
            let _ = task.await;
        }
    }
}
