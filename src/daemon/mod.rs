//! `outpost run`: the dispatcher, its LISTEN connection and the rescuer,
//! sharing one pool and one shutdown signal, with the HTTP listeners
//! (`listeners`) and the metrics refresh beside them.

mod listeners;

use std::sync::Arc;

use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use crate::channel::airship::AirshipChannel;
use crate::channel::chat::{InAppChannel, Mirror};
use crate::channel::console::{ConsoleChannel, ConsoleSink};
use crate::channel::email::console::ConsoleMail;
use crate::channel::email::sendgrid::SendGridMail;
use crate::channel::email::smtp::SmtpMail;
use crate::channel::email::smtp_db::SmtpDbMail;
use crate::channel::email::{EmailChannel, MailTransport};
use crate::channel::twilio::TwilioChannel;
use crate::channel::{Channel, Channels};
use crate::config::{Backend, Config};
use crate::db::{self, DbError, migrate};
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

/// The channels the configuration names, printing to stdout.
pub fn build_channels(config: &Config, templates: Arc<Templates>) -> Result<Channels, DaemonError> {
    build_channels_with_sink(
        config,
        templates,
        Arc::new(std::sync::Mutex::new(std::io::stdout())),
    )
}

/// The channels the configuration names: the configured backend is each
/// kind's default; every other usable e-mail transport can still be forced
/// per message with `provider`.
pub fn build_channels_with_sink(
    config: &Config,
    templates: Arc<Templates>,
    sink: ConsoleSink,
) -> Result<Channels, DaemonError> {
    let mut channels = Channels::new();
    // Channels that read the database share one small pool.
    let pool = db::pool(&config.database_url, 4)?;
    let providers = provider_channels(config, &templates, &pool)?;
    for kind in Kind::ALL.into_iter().filter(|k| *k != Kind::Email) {
        let default = config
            .backends
            .get(&kind)
            .copied()
            .unwrap_or(Backend::Console);
        let console = console_channel(config, kind, &templates, &sink)?;
        channels.register(kind, console, default == Backend::Console);
        let mut found = default == Backend::Console;
        for (k, backend, channel) in &providers {
            if *k == kind {
                channels.register(kind, channel.clone(), *backend == default);
                found |= *backend == default;
            }
        }
        if !found {
            return Err(DaemonError::Unavailable {
                backend: format!("{default:?}"),
                kind,
            });
        }
    }
    register_email(&mut channels, config, &templates, &pool, sink)?;
    Ok(channels)
}

fn backend_error(backend: &str) -> impl FnOnce(crate::channel::SendError) -> DaemonError {
    let backend = backend.to_owned();
    move |e| DaemonError::Backend { backend, source: e }
}

/// A provider channel and the kind and backend name it serves.
type Provider = (Kind, Backend, Arc<dyn Channel>);

/// The providers other than e-mail that the configuration can reach: Twilio
/// (when it has credentials), Airship, in-app chat.
fn provider_channels(
    config: &Config,
    templates: &Arc<Templates>,
    pool: &deadpool_postgres::Pool,
) -> Result<Vec<Provider>, DaemonError> {
    let mut providers: Vec<Provider> = Vec::new();
    if !config.twilio.account_sid.is_empty() && !config.twilio.auth_token.is_empty() {
        let twilio: Arc<dyn Channel> = Arc::new(
            TwilioChannel::new(
                config.twilio.clone(),
                templates.clone(),
                config.dispatch.send_timeout,
            )
            .map_err(backend_error("twilio"))?,
        );
        providers.push((Kind::Sms, Backend::Twilio, twilio.clone()));
        providers.push((Kind::Voice, Backend::Twilio, twilio));
    }
    let airship = AirshipChannel::new(
        config.push_app.clone(),
        config.push_device_types.clone(),
        pool.clone(),
        templates.clone(),
        config.dispatch.send_timeout,
    )
    .map_err(backend_error("airship"))?;
    providers.push((Kind::Push, Backend::Airship, Arc::new(airship)));
    providers.push((
        Kind::Chat,
        Backend::InApp,
        Arc::new(InAppChannel::new(pool.clone(), templates.clone())),
    ));
    Ok(providers)
}

/// The console backend of `kind`: SMS, voice, push and chat go through
/// every check their provider makes and print the request instead, so
/// development shows what production will do.
fn console_channel(
    config: &Config,
    kind: Kind,
    templates: &Arc<Templates>,
    sink: &ConsoleSink,
) -> Result<Arc<dyn Channel>, DaemonError> {
    Ok(match kind {
        Kind::Sms | Kind::Voice => Arc::new(
            TwilioChannel::console(config.twilio.clone(), templates.clone(), sink.clone())
                .map_err(backend_error("console"))?,
        ),
        Kind::Push => Arc::new(crate::channel::airship::ConsolePush::new(
            config.push_device_types.clone(),
            templates.clone(),
            sink.clone(),
        )),
        Kind::Chat => Arc::new(crate::channel::chat::ConsoleChat::new(
            templates.clone(),
            sink.clone(),
        )),
        Kind::Email => Arc::new(ConsoleChannel::with_sink(
            sink.clone(),
            config.email_from.clone(),
        )),
    })
}

/// Every usable e-mail transport as a channel (the configured one the
/// default, the fallback set), each mirroring into chat and adding
/// unsubscribe headers.
fn register_email(
    channels: &mut Channels,
    config: &Config,
    templates: &Arc<Templates>,
    pool: &deadpool_postgres::Pool,
    sink: ConsoleSink,
) -> Result<(), DaemonError> {
    let mirror = Arc::new(Mirror::new(pool.clone(), config.chat_mirror_email));
    let mut transports: Vec<(Backend, Arc<dyn MailTransport>)> = vec![
        (Backend::Console, Arc::new(ConsoleMail::new(sink))),
        (
            Backend::Smtp,
            Arc::new(SmtpMail::new("smtp", &config.smtp).map_err(backend_error("smtp"))?),
        ),
        (
            Backend::SmtpDb,
            Arc::new(SmtpDbMail::new(
                pool.clone(),
                config.smtp.ca_pem.clone(),
                config.smtp.pool_size,
            )),
        ),
    ];
    if !config.sendgrid_api_key.is_empty() {
        let sendgrid = SendGridMail::new(
            &config.sendgrid_base_url,
            config.sendgrid_api_key.clone(),
            config.dispatch.send_timeout,
        )
        .map_err(backend_error("sendgrid"))?;
        transports.push((Backend::SendGrid, Arc::new(sendgrid)));
    }
    let default = config
        .backends
        .get(&Kind::Email)
        .copied()
        .unwrap_or(Backend::Console);
    for (backend, transport) in transports {
        let channel = EmailChannel::new(transport, templates.clone(), config.email_from.clone())
            .with_max_recipients(config.email_max_recipients)
            .with_mirror(mirror.clone())
            .with_unsubscribe(config.unsubscribe.clone());
        let channel: Arc<dyn Channel> = Arc::new(channel);
        if config.email_fallback == Some(backend) {
            channels.set_fallback(Kind::Email, channel.clone());
        }
        channels.register(Kind::Email, channel, backend == default);
    }
    Ok(())
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
    let metrics = Arc::new(Metrics::new());
    let worker = Dispatcher::default_worker_name();
    let dispatcher = Arc::new(
        Dispatcher::new(pool.clone(), config, channels, worker.clone())
            .with_metrics(metrics.clone()),
    );
    let background = shutdown.child_token();
    let listen_state = Arc::new(ListenState::default());
    let caps = crate::descriptors::budget(config);
    let state = http::AppState::new(
        pool,
        config,
        metrics.clone(),
        Some(dispatcher.heartbeat().clone()),
    )
    .with_listen(listen_state.clone());
    let served = listeners::start(config, caps, state, background.clone()).await?;
    let refresh = tokio::spawn(crate::metrics::refresh::run(
        config.database_url.clone(),
        metrics,
        config.ops.refresh_interval,
        background.clone(),
    ));
    let presence = tokio::spawn(crate::presence::run(dispatcher.clone(), background.clone()));
    tracing::info!(%worker, "outpost dispatcher started");
    if let Some(interval) = sd_notify::watchdog_enabled() {
        dispatcher.heartbeat().enable_watchdog(interval);
    }
    // Migrations are current and the HTTP port is bound: tell systemd.
    if let Err(e) = sd_notify::notify(&[sd_notify::NotifyState::Ready]) {
        tracing::warn!(error = %e, "cannot notify systemd that Outpost is ready");
    }

    let wake = Arc::new(Notify::new());
    let listen = tokio::spawn(listener::listen(
        config.database_url.clone(),
        wake.clone(),
        listen_state,
        background.clone(),
    ));
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
    let _ = listen.await;
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
