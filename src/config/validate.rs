//! The second configuration stage: every section checked by its own module
//! (`sections/`), assembled into the typed [`Config`].

use std::path::PathBuf;

use super::settings::{Backend, Config};
use super::{ConfigError, RawConfig, sections};
use crate::message::Kind;

impl Config {
    pub fn validate(raw: RawConfig) -> Result<Self, ConfigError> {
        let database = sections::database(&raw.database)?;
        let dispatch = sections::dispatch(&raw.dispatch)?;
        let retry = sections::retry(&raw.retry)?;
        if raw.locale.default.trim().is_empty() {
            return Err(ConfigError::invalid("locale.default", "must not be empty"));
        }
        let backends = sections::backends(&raw)?;
        let email = sections::email(&raw, &backends)?;
        let http = sections::http(&raw)?;
        let console = sections::console(&raw.console, &http)?;
        let ops = sections::ops(&raw.ops, &http, &console)?;
        let (webhooks, public_url) = sections::webhooks(&raw)?;
        let twilio = sections::twilio(&raw.twilio, &public_url)?;
        for kind in [Kind::Sms, Kind::Voice] {
            if backends[&kind] == Backend::Twilio
                && (twilio.account_sid.is_empty() || twilio.auth_token.is_empty())
            {
                return Err(ConfigError::invalid(
                    "twilio.account_sid",
                    format!(
                        "account_sid and auth_token are required when {kind}.backend is twilio \
                         (or set TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN)"
                    ),
                ));
            }
        }
        let push_app = sections::push(&raw.push, &backends)?;
        let housekeeping = sections::housekeeping(&raw.housekeeping)?;
        if raw.templates.fuel == 0 {
            return Err(ConfigError::invalid("templates.fuel", "must be at least 1"));
        }
        let unsubscribe = sections::unsubscribe(&raw.unsubscribe)?;
        let quiet_hours = sections::quiet_hours(&raw.quiet_hours)?;
        let log = sections::log(&raw.log)?;
        let limits = sections::limits(&raw.limits)?;
        let inbox = sections::inbox(&raw.inbox)?;
        Ok(Self {
            database_url: database.url,
            databases: database.databases,
            pool_size: database.pool_size,
            pooler: database.pooler,
            listen_url: database.listen_url,
            http,
            console,
            ops,
            webhooks,
            webhook_endpoints: super::settings::WebhookEndpointsSettings {
                allow_private: raw.webhook_endpoints.allow_private,
                rate_limit: raw.webhook_endpoints.rate_limit,
            },
            twilio,
            push_app,
            push_device_types: raw.push.device_types.clone(),
            chat_mirror_email: raw.chat.mirror_email,
            housekeeping,
            recipients: database.recipients,
            dispatch,
            retry,
            log,
            default_locale: raw.locale.default.trim().to_owned(),
            locale_dir: PathBuf::from(&raw.locale.dir),
            templates_dir: PathBuf::from(&raw.templates.dir),
            template_fuel: raw.templates.fuel,
            email_from: email.from,
            email_max_recipients: email.max_recipients,
            email_fallback: email.fallback,
            smtp: email.smtp,
            sendgrid_api_key: email.sendgrid_api_key,
            sendgrid_base_url: email.sendgrid_base_url,
            backends,
            unsubscribe,
            quiet_hours,
            limits,
            inbox,
            raw,
        })
    }
}
