//! `outpost run`: the dispatcher, its LISTEN connection and the rescuer,
//! sharing one pool and one shutdown signal, with the HTTP listeners
//! (`listeners`) and the metrics refresh beside them.

mod channels;
mod listeners;

pub use channels::{build_channels, build_channels_with_sink};

use std::sync::Arc;

use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use crate::channel::Channels;
use crate::config::Config;
use crate::db::{DbError, migrate};
use crate::dispatch::listener::{self, ListenState};
use crate::dispatch::runner::{self, RunReport};
use crate::dispatch::{Dispatcher, rescuer};
use crate::http;
use crate::message::Kind;
use crate::metrics::Metrics;
use crate::render::Templates;

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
    #[error("cannot set up the {backend} backend: {source}")]
    Backend {
        backend: String,
        #[source]
        source: crate::channel::SendError,
    },
    #[error("the {backend} backend is not available for {kind} messages")]
    Unavailable { backend: String, kind: Kind },
    #[error("cannot load the templates: {0}")]
    Templates(#[source] crate::render::RenderError),
    #[error("cannot listen on {addr} ({key}): {source}")]
    Listen {
        key: &'static str,
        addr: std::net::SocketAddr,
        #[source]
        source: std::io::Error,
    },
}

/// Reloads templates and catalogs on every SIGHUP (systemd's ExecReload).
pub fn reload_on_sighup(templates: Arc<Templates>) {
    tokio::spawn(async move {
        let Ok(mut hup) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup())
        else {
            tracing::error!("cannot listen for SIGHUP; templates will not reload");
            return;
        };
        while hup.recv().await.is_some() {
            let _ = sd_notify::notify(&[sd_notify::NotifyState::Reloading]);
            let result = templates.reload();
            let _ = sd_notify::notify(&[sd_notify::NotifyState::Ready]);
            match result {
                Ok(()) => tracing::info!("templates and catalogs reloaded"),
                Err(e) => {
                    tracing::error!(error = %e, "reload failed; keeping the previous templates")
                }
            }
        }
    });
}

/// A daemon ready to run (zero-to-production's `Application` shape): its
/// configuration, its channels, and the one set of templates the channels
/// and the console's previews share, so that SIGHUP reloads both.
pub struct Daemon {
    config: Config,
    channels: Channels,
    templates: Arc<Templates>,
}

impl Daemon {
    /// Loads the templates once and builds the configured channels over them.
    pub fn build(config: &Config) -> Result<Self, DaemonError> {
        let templates =
            Arc::new(Templates::load(&config.template_source()).map_err(DaemonError::Templates)?);
        let channels = build_channels(config, templates.clone())?;
        Ok(Self::with_channels(config, channels, templates))
    }

    /// A daemon over channels built elsewhere (tests), its console
    /// previewing with `templates`.
    pub fn with_channels(config: &Config, channels: Channels, templates: Arc<Templates>) -> Self {
        Self {
            config: config.clone(),
            channels,
            templates,
        }
    }

    /// The templates channels and console share (for the SIGHUP reloader).
    pub fn templates(&self) -> &Arc<Templates> {
        &self.templates
    }

    /// Runs until `shutdown` is cancelled, then finishes or releases
    /// in-flight messages within the grace period.
    pub async fn run_until_stopped(
        self,
        shutdown: CancellationToken,
    ) -> Result<RunReport, DaemonError> {
        serve(&self.config, self.channels, self.templates, shutdown).await
    }
}

/// Runs `channels` until `shutdown` as [`Daemon::run_until_stopped`] does,
/// the console previewing with templates of its own (tests).
pub async fn run(
    config: &Config,
    channels: Channels,
    shutdown: CancellationToken,
) -> Result<RunReport, DaemonError> {
    let templates =
        Arc::new(Templates::load(&config.template_source()).map_err(DaemonError::Templates)?);
    Daemon::with_channels(config, channels, templates)
        .run_until_stopped(shutdown)
        .await
}

async fn serve(
    config: &Config,
    channels: Channels,
    templates: Arc<Templates>,
    shutdown: CancellationToken,
) -> Result<RunReport, DaemonError> {
    let pool = crate::pools::open(config, crate::pools::Purpose::Dispatch)?;
    {
        let client = pool.get().await.map_err(DbError::from)?;
        let pending = migrate::pending(&client).await?;
        if !pending.is_empty() {
            return Err(DaemonError::Pending(pending.join(", ")));
        }
    }
    let metrics = Arc::new(Metrics::new());
    let worker = Dispatcher::default_worker_name();
    let dispatcher = Arc::new(
        Dispatcher::new(pool.clone(), config, channels, worker.clone())
            .with_metrics(metrics.clone()),
    );
    let background = shutdown.child_token();
    let listen_state = Arc::new(ListenState::default());
    // LISTEN needs a session: PostgreSQL itself, never a transaction pooler.
    let direct = crate::pools::direct_url(config).map(str::to_owned);
    let caps = crate::descriptors::budget(config);
    let mut state = http::AppState::new(
        pool,
        config,
        metrics.clone(),
        Some(dispatcher.heartbeat().clone()),
    );
    if direct.is_some() {
        state = state.with_listen(listen_state.clone());
    }
    let inbox = if config.inbox.enabled && config.http.enabled {
        if direct.is_none() {
            tracing::warn!(
                "the inbox's streams are driven by LISTEN, which cannot pass a transaction \
                 pooler: set database.listen_url, or they carry only what they replay on connecting"
            );
        }
        let pool = crate::pools::open(config, crate::pools::Purpose::Inbox)?;
        Some(crate::inbox::Hub::start(pool, config.inbox.clone(), background.child_token()).await?)
    } else {
        None
    };
    let state = match &inbox {
        Some(hub) => state.with_inbox(hub.clone()),
        None => state,
    };
    let served = listeners::start(config, caps, state, templates, background.clone()).await?;
    let refresh = tokio::spawn(crate::metrics::refresh::run(
        direct
            .clone()
            .unwrap_or_else(|| config.database_url.clone()),
        direct.is_some(),
        metrics,
        config.ops.refresh_interval,
        background.clone(),
    ));
    let presence = tokio::spawn(crate::presence::run(dispatcher.clone(), background.clone()));
    tracing::info!(%worker, "outpost dispatcher started");
    match (crate::pools::pooler_notice(config), &direct) {
        (Some(notice), Some(_)) => tracing::info!("{notice}"),
        (Some(notice), None) => tracing::warn!("{notice}"),
        (None, _) => {}
    }
    if let Some(interval) = sd_notify::watchdog_enabled() {
        dispatcher.heartbeat().enable_watchdog(interval);
    }
    // Migrations are current and the HTTP port is bound: tell systemd.
    if let Err(e) = sd_notify::notify(&[sd_notify::NotifyState::Ready]) {
        tracing::warn!(error = %e, "cannot notify systemd that Outpost is ready");
    }

    let wake = Arc::new(Notify::new());
    let notices = inbox.as_ref().map(|hub| hub.notices());
    let listen = direct.map(|url| {
        tokio::spawn(listener::listen(
            url,
            wake.clone(),
            listen_state,
            notices,
            background.clone(),
        ))
    });
    let rescue = tokio::spawn(rescuer::run(dispatcher.clone(), background.clone()));
    let housekeeping = config.housekeeping.clone().map(|settings| {
        tokio::spawn(crate::housekeeping::run(
            dispatcher.pool().clone(),
            dispatcher.worker().to_owned(),
            Arc::new(settings),
            background.clone(),
        ))
    });

    let stopping = shutdown.clone();
    tokio::spawn(async move {
        stopping.cancelled().await;
        let _ = sd_notify::notify(&[sd_notify::NotifyState::Stopping]);
    });
    let report = runner::run(dispatcher, wake, shutdown).await;
    background.cancel();
    if let Some(listen) = listen {
        let _ = listen.await;
    }
    let _ = rescue.await;
    if let Some(housekeeping) = housekeeping {
        let _ = housekeeping.await;
    }
    for listener in served {
        let _ = listener.await;
    }
    let _ = refresh.await;
    let _ = presence.await;
    tracing::info!(
        claimed = report.claimed,
        released = report.released,
        "outpost dispatcher stopped"
    );
    Ok(report)
}
