//! The channel registry: every backend the configuration can reach, built
//! once per kind, the configured one each kind's default.

use std::sync::Arc;

use super::DaemonError;
use crate::channel::airship::AirshipChannel;
use crate::channel::chat::{InAppChannel, Mirror};
use crate::channel::email::sendgrid::SendGridMail;
use crate::channel::email::smtp::SmtpMail;
use crate::channel::email::smtp_db::SmtpDbMail;
use crate::channel::email::stdout::StdoutMail;
use crate::channel::email::{EmailChannel, MailTransport};
use crate::channel::stdout::StdoutSink;
use crate::channel::twilio::TwilioChannel;
use crate::channel::webhook::WebhookChannel;
use crate::channel::{Channel, Channels};
use crate::config::{Backend, Config};
use crate::message::Kind;
use crate::render::Templates;

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
    sink: StdoutSink,
) -> Result<Channels, DaemonError> {
    let pool = crate::pools::open(config, crate::pools::Purpose::Providers)?;
    Providers::build(config, templates, sink)?.channels(config, &pool, None)
}

/// What the channels hold that talks to providers rather than to a
/// database: built once and shared by every database's channels, so that a
/// provider sees one client (one SMTP pool, one Twilio rate limit).
#[derive(Clone)]
pub struct Providers {
    templates: Arc<Templates>,
    stdout: Vec<(Kind, Arc<dyn Channel>)>,
    twilio: Option<Arc<dyn Channel>>,
    mail: Vec<(Backend, Arc<dyn MailTransport>)>,
}

impl Providers {
    /// The provider clients the configuration names.
    pub fn build(
        config: &Config,
        templates: Arc<Templates>,
        sink: StdoutSink,
    ) -> Result<Self, DaemonError> {
        let mut stdout = Vec::new();
        for kind in Kind::ALL {
            if let Some(channel) = stdout_channel(config, kind, &templates, &sink)? {
                stdout.push((kind, channel));
            }
        }
        let twilio: Option<Arc<dyn Channel>> =
            if !config.twilio.account_sid.is_empty() && !config.twilio.auth_token.is_empty() {
                Some(Arc::new(
                    TwilioChannel::new(
                        config.twilio.clone(),
                        templates.clone(),
                        config.dispatch.send_timeout,
                    )
                    .map_err(backend_error("twilio"))?,
                ))
            } else {
                None
            };
        let mut mail: Vec<(Backend, Arc<dyn MailTransport>)> = vec![
            (Backend::Stdout, Arc::new(StdoutMail::new(sink))),
            (
                Backend::Smtp,
                Arc::new(SmtpMail::new("smtp", &config.smtp).map_err(backend_error("smtp"))?),
            ),
        ];
        if !config.sendgrid_api_key.is_empty() {
            let sendgrid = SendGridMail::new(
                &config.sendgrid_base_url,
                config.sendgrid_api_key.clone(),
                config.dispatch.send_timeout,
            )
            .map_err(backend_error("sendgrid"))?;
            mail.push((Backend::SendGrid, Arc::new(sendgrid)));
        }
        Ok(Self {
            templates,
            stdout,
            twilio,
            mail,
        })
    }

    /// The channels of the database behind `pool`: these providers, and
    /// the channels that read or write that database (push apps, in-app
    /// chat, webhooks, SMTP servers kept in it, the e-mail mirror).
    /// `database`: its name, when the daemon serves several (a breaker kept
    /// per destination in it, such as a webhook endpoint's, is then that
    /// database's alone).
    pub fn channels(
        &self,
        config: &Config,
        pool: &deadpool_postgres::Pool,
        database: Option<&str>,
    ) -> Result<Channels, DaemonError> {
        let mut channels = Channels::new();
        let providers = self.database_channels(config, pool, database)?;
        for kind in Kind::ALL.into_iter().filter(|k| *k != Kind::Email) {
            let default = config
                .backends
                .get(&kind)
                .copied()
                .unwrap_or(Backend::Stdout);
            for (k, stdout) in &self.stdout {
                if *k == kind {
                    channels.register(kind, stdout.clone(), default == Backend::Stdout);
                }
            }
            let mut found = default == Backend::Stdout;
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
        self.register_email(&mut channels, config, pool, database);
        Ok(channels)
    }

    /// Twilio, and the providers bound to the database behind `pool`.
    fn database_channels(
        &self,
        config: &Config,
        pool: &deadpool_postgres::Pool,
        database: Option<&str>,
    ) -> Result<Vec<Provider>, DaemonError> {
        let templates = &self.templates;
        let mut providers: Vec<Provider> = Vec::new();
        if let Some(twilio) = &self.twilio {
            providers.push((Kind::Sms, Backend::Twilio, twilio.clone()));
            providers.push((Kind::Voice, Backend::Twilio, twilio.clone()));
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
        let webhook = WebhookChannel::new(
            config.webhook_endpoints,
            pool.clone(),
            config.dispatch.send_timeout,
        )
        .map_err(backend_error("webhook"))?
        .in_database(database);
        providers.push((Kind::Webhook, Backend::Webhook, Arc::new(webhook)));
        Ok(providers)
    }

    /// Every usable e-mail transport as a channel (the configured one the
    /// default, the fallback set), each mirroring into the database's chat
    /// and adding unsubscribe headers.
    fn register_email(
        &self,
        channels: &mut Channels,
        config: &Config,
        pool: &deadpool_postgres::Pool,
        database: Option<&str>,
    ) {
        let mirror = Arc::new(Mirror::new(pool.clone(), config.chat_mirror_email));
        let smtp_db: Arc<dyn MailTransport> = Arc::new(SmtpDbMail::new(
            pool.clone(),
            config.smtp.ca_pem.clone(),
            config.smtp.pool_size,
        ));
        let default = config
            .backends
            .get(&Kind::Email)
            .copied()
            .unwrap_or(Backend::Stdout);
        let transports = self
            .mail
            .iter()
            .cloned()
            .chain(std::iter::once((Backend::SmtpDb, smtp_db)));
        for (backend, transport) in transports {
            let channel =
                EmailChannel::new(transport, self.templates.clone(), config.email_from.clone())
                    .with_max_recipients(config.email_max_recipients)
                    .with_mirror(mirror.clone())
                    .with_unsubscribe(config.unsubscribe.clone())
                    .in_database(database);
            let channel: Arc<dyn Channel> = Arc::new(channel);
            if config.email_fallback == Some(backend) {
                channels.set_fallback(Kind::Email, channel.clone());
            }
            channels.register(Kind::Email, channel, backend == default);
        }
    }
}

fn backend_error(backend: &str) -> impl FnOnce(crate::channel::SendError) -> DaemonError {
    let backend = backend.to_owned();
    move |e| DaemonError::Backend { backend, source: e }
}

/// A provider channel and the kind and backend name it serves.
type Provider = (Kind, Backend, Arc<dyn Channel>);

/// The stdout backend of `kind` (configured as `console`): SMS, voice, push
/// and chat go through every check their provider makes and print the
/// request instead, so development shows what production will do. E-mail
/// has none here: its stdout transport is one of its transports
/// (`register_email`).
fn stdout_channel(
    config: &Config,
    kind: Kind,
    templates: &Arc<Templates>,
    sink: &StdoutSink,
) -> Result<Option<Arc<dyn Channel>>, DaemonError> {
    Ok(Some(match kind {
        Kind::Sms | Kind::Voice => Arc::new(
            TwilioChannel::stdout(config.twilio.clone(), templates.clone(), sink.clone())
                .map_err(backend_error("console"))?,
        ),
        Kind::Push => Arc::new(crate::channel::airship::StdoutPush::new(
            config.push_device_types.clone(),
            templates.clone(),
            sink.clone(),
        )),
        Kind::Chat => Arc::new(crate::channel::chat::StdoutChat::new(
            templates.clone(),
            sink.clone(),
        )),
        Kind::Email | Kind::Webhook => return Ok(None),
    }))
}
