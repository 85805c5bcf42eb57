//! `outpost run`: the dispatcher, its LISTEN connection and the rescuer,
//! sharing one pool and one shutdown signal, with the HTTP listeners
//! (`listeners`) and the metrics refresh beside them.

mod channels;
mod engine;
mod listeners;

pub use channels::{Providers, build_channels, build_channels_with_sink};
use engine::{Engine, Running};

use std::sync::Arc;

use tokio_util::sync::CancellationToken;

use crate::channel::Channels;
use crate::config::Config;
use crate::db::{DbError, migrate};
use crate::dispatch::Dispatcher;
use crate::dispatch::runner::RunReport;
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
    #[error("database {name}")]
    Database {
        name: String,
        #[source]
        source: Box<DaemonError>,
    },
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

/// Where each database's channels come from.
enum ChannelSource {
    /// Built once: the same channels for every database (tests).
    Built(Channels),
    /// Providers shared, each database's own database-bound channels.
    Providers(Providers),
}

impl ChannelSource {
    /// The channels of the one database `config` serves; `several`: the
    /// daemon serves others too (the per-destination breakers then carry
    /// the database's name).
    fn channels_for(&self, config: &Config, several: bool) -> Result<Channels, DaemonError> {
        match self {
            ChannelSource::Built(channels) => Ok(channels.clone()),
            ChannelSource::Providers(providers) => {
                let pool = crate::pools::open(config, crate::pools::Purpose::Providers)?;
                let scope = several.then(|| config.databases[0].name.as_str());
                providers.channels(config, &pool, scope)
            }
        }
    }
}

/// A daemon ready to run (zero-to-production's `Application` shape): its
/// configuration, its channels, and the one set of templates the channels
/// and the console's previews share, so that SIGHUP reloads both.
pub struct Daemon {
    config: Config,
    channels: ChannelSource,
    templates: Arc<Templates>,
}

impl Daemon {
    /// Loads the templates once and builds the configured providers over
    /// them; each database gets its channels when the daemon starts.
    pub fn build(config: &Config) -> Result<Self, DaemonError> {
        let templates =
            Arc::new(Templates::load(&config.template_source()).map_err(DaemonError::Templates)?);
        let providers = Providers::build(
            config,
            templates.clone(),
            Arc::new(std::sync::Mutex::new(std::io::stdout())),
        )?;
        Ok(Self::with_providers(config, providers, templates))
    }

    /// A daemon whose databases share `providers` (tests pass a sink).
    pub fn with_providers(
        config: &Config,
        providers: Providers,
        templates: Arc<Templates>,
    ) -> Self {
        Self {
            config: config.clone(),
            channels: ChannelSource::Providers(providers),
            templates,
        }
    }

    /// A daemon over channels built elsewhere (tests), its console
    /// previewing with `templates`.
    pub fn with_channels(config: &Config, channels: Channels, templates: Arc<Templates>) -> Self {
        Self {
            config: config.clone(),
            channels: ChannelSource::Built(channels),
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
    channels: ChannelSource,
    templates: Arc<Templates>,
    shutdown: CancellationToken,
) -> Result<RunReport, DaemonError> {
    let metrics = Arc::new(Metrics::new());
    let worker = Dispatcher::default_worker_name();
    let several = config.databases.len() > 1;
    let mut engines: Vec<Engine> = Vec::new();
    for database in &config.databases {
        let engine = Engine::open(
            config,
            database,
            |one| channels.channels_for(one, several),
            &worker,
            &metrics,
            engines.first(),
        )
        .await
        .map_err(|e| match e {
            e if several => DaemonError::Database {
                name: database.name.clone(),
                source: Box::new(e),
            },
            e => e,
        })?;
        engines.push(engine);
    }
    let first = &engines[0];
    let background = shutdown.child_token();
    let caps = crate::descriptors::budget(config);
    let mut state = http::AppState::new(
        first.dispatcher.pool().clone(),
        config,
        metrics.clone(),
        Some(first.dispatcher.heartbeat().clone()),
    );
    if first.direct.is_some() {
        state = state.with_listen(first.listen.clone());
    }
    if several {
        state = state.with_databases(
            engines
                .iter()
                .map(|e| http::DatabaseState {
                    name: e.name.clone(),
                    pool: e.dispatcher.pool().clone(),
                    heartbeat: e.dispatcher.heartbeat().clone(),
                    listen: e.direct.as_ref().map(|_| e.listen.clone()),
                })
                .collect(),
        );
    }
    // The inbox: a hub per database, each fed by that database's LISTEN.
    let mut inboxes = Vec::new();
    if config.inbox.enabled && config.http.enabled {
        if first.direct.is_none() {
            tracing::warn!(
                "the inbox's streams are driven by LISTEN, which cannot pass a transaction \
                 pooler: set database.listen_url, or they carry only what they replay on connecting"
            );
        }
        for engine in &engines {
            let pool = crate::pools::open(&engine.config, crate::pools::Purpose::Inbox)?;
            inboxes.push(
                crate::inbox::Hub::start(pool, config.inbox.clone(), background.child_token())
                    .await?,
            );
        }
    }
    let state = inboxes
        .iter()
        .fold(state, |state, hub| state.with_inbox(hub.clone()));
    let served = listeners::start(
        &first.config,
        &config.databases,
        caps,
        state,
        templates,
        background.clone(),
    )
    .await?;
    let names: Vec<&str> = engines.iter().map(|e| e.name.as_str()).collect();
    tracing::info!(%worker, databases = %names.join(", "), "outpost dispatcher started");
    match (crate::pools::pooler_notice(config), &first.direct) {
        (Some(notice), Some(_)) => tracing::info!("{notice}"),
        (Some(notice), None) => tracing::warn!("{notice}"),
        (None, _) => {}
    }
    if let Some(interval) = sd_notify::watchdog_enabled() {
        for engine in &engines {
            engine.dispatcher.heartbeat().enable_watchdog(interval);
        }
    }
    // Migrations are current and the HTTP port is bound: tell systemd.
    if let Err(e) = sd_notify::notify(&[sd_notify::NotifyState::Ready]) {
        tracing::warn!(error = %e, "cannot notify systemd that Outpost is ready");
    }

    let running: Vec<Running> = engines
        .iter()
        .enumerate()
        .map(|(i, engine)| {
            let notices = inboxes.get(i).map(|hub| hub.notices());
            engine.start(notices, &background)
        })
        .collect();
    let stopping = shutdown.clone();
    tokio::spawn(async move {
        stopping.cancelled().await;
        let _ = sd_notify::notify(&[sd_notify::NotifyState::Stopping]);
    });
    let mut report = RunReport::default();
    for r in futures_util::future::join_all(engines.iter().map(|e| e.run(&shutdown))).await {
        report.claimed += r.claimed;
        report.released += r.released;
    }
    background.cancel();
    for engine in running {
        engine.join().await;
    }
    for listener in served {
        let _ = listener.await;
    }
    tracing::info!(
        claimed = report.claimed,
        released = report.released,
        "outpost dispatcher stopped"
    );
    Ok(report)
}
