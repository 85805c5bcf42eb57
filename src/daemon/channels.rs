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
    let mut channels = Channels::new();
    let pool = crate::pools::open(config, crate::pools::Purpose::Providers)?;
    let providers = provider_channels(config, &templates, &pool)?;
    for kind in Kind::ALL.into_iter().filter(|k| *k != Kind::Email) {
        let default = config
            .backends
            .get(&kind)
            .copied()
            .unwrap_or(Backend::Stdout);
        if let Some(stdout) = stdout_channel(config, kind, &templates, &sink)? {
            channels.register(kind, stdout, default == Backend::Stdout);
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
    let webhook = WebhookChannel::new(
        config.webhook_endpoints,
        pool.clone(),
        config.dispatch.send_timeout,
    )
    .map_err(backend_error("webhook"))?;
    providers.push((Kind::Webhook, Backend::Webhook, Arc::new(webhook)));
    Ok(providers)
}

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

/// Every usable e-mail transport as a channel (the configured one the
/// default, the fallback set), each mirroring into chat and adding
/// unsubscribe headers.
fn register_email(
    channels: &mut Channels,
    config: &Config,
    templates: &Arc<Templates>,
    pool: &deadpool_postgres::Pool,
    sink: StdoutSink,
) -> Result<(), DaemonError> {
    let mirror = Arc::new(Mirror::new(pool.clone(), config.chat_mirror_email));
    let mut transports: Vec<(Backend, Arc<dyn MailTransport>)> = vec![
        (Backend::Stdout, Arc::new(StdoutMail::new(sink))),
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
        .unwrap_or(Backend::Stdout);
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
