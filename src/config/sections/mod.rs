//! Validation, one module per configuration section: each turns its raw
//! section into typed settings, with errors that name the key.

mod console;
mod database;
mod dispatch;
mod email;
mod housekeeping;
mod http;
mod inbox;
mod limits;
mod ops;
mod push;
mod quiet_hours;
mod twilio;
mod unsubscribe;

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

pub(super) use console::console;
pub(super) use database::database;
pub(super) use dispatch::{dispatch, retry};
pub(super) use email::{backends, email};
pub(super) use housekeeping::housekeeping;
pub(super) use http::{http, webhooks};
pub(super) use inbox::inbox;
pub(super) use limits::limits;
pub(super) use ops::ops;
pub(super) use push::push;
pub(super) use quiet_hours::quiet_hours;
pub(super) use twilio::twilio;
pub(super) use unsubscribe::unsubscribe;

use super::ConfigError;
use super::settings::{Backend, LogFormat, LogSettings};
use crate::message::Kind;

pub(super) fn positive(key: &str, value: Duration) -> Result<Duration, ConfigError> {
    if value.is_zero() {
        return Err(ConfigError::invalid(key, "must be longer than zero"));
    }
    Ok(value)
}

/// A listener's address from `raw`, the error naming `key` and showing `example`.
pub(super) fn listen(key: &str, raw: &str, example: &str) -> Result<SocketAddr, ConfigError> {
    raw.trim()
        .parse()
        .map_err(|e| ConfigError::invalid(key, format!("not an address like {example}: {e}")))
}

/// Whether two listeners would want the same port (port 0 picks a free one).
pub(super) fn same_port(a: SocketAddr, b: SocketAddr) -> bool {
    let overlaps = |a: IpAddr, b: IpAddr| a == b || a.is_unspecified() || b.is_unspecified();
    a.port() != 0 && a.port() == b.port() && overlaps(a.ip(), b.ip())
}

/// A count of at least one (connections, slots).
pub(super) fn at_least_one(key: &str, value: usize) -> Result<usize, ConfigError> {
    if value == 0 {
        return Err(ConfigError::invalid(key, "must be at least 1"));
    }
    Ok(value)
}

/// A share between 0 (exclusive) and 1 (inclusive).
pub(super) fn rate(key: &str, value: f64) -> Result<f64, ConfigError> {
    if !(value > 0.0 && value <= 1.0) {
        return Err(ConfigError::invalid(
            key,
            format!("must be above 0 and at most 1, got {value}"),
        ));
    }
    Ok(value)
}

pub(super) fn backend(key: &str, name: &str, kind: Kind) -> Result<Backend, ConfigError> {
    let available: &[(&str, Backend)] = match kind {
        Kind::Email => &[
            ("console", Backend::Stdout),
            ("smtp", Backend::Smtp),
            ("smtp_db", Backend::SmtpDb),
            ("sendgrid", Backend::SendGrid),
        ],
        Kind::Sms | Kind::Voice => &[("console", Backend::Stdout), ("twilio", Backend::Twilio)],
        Kind::Push => &[("console", Backend::Stdout), ("airship", Backend::Airship)],
        Kind::Chat => &[("console", Backend::Stdout), ("inapp", Backend::InApp)],
        Kind::Webhook => &[("http", Backend::Webhook)],
    };
    let name = name.trim();
    available
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, b)| *b)
        .ok_or_else(|| {
            let names: Vec<&str> = available.iter().map(|(n, _)| *n).collect();
            ConfigError::invalid(
                key,
                format!("unknown backend {name:?} (available: {})", names.join(", ")),
            )
        })
}

/// `[log]`.
pub(super) fn log(raw: &super::LogSection) -> Result<LogSettings, ConfigError> {
    let format = match raw.format.as_str() {
        "text" => LogFormat::Text,
        "json" => LogFormat::Json,
        _ => return Err(ConfigError::invalid("log.format", "must be text or json")),
    };
    tracing_subscriber::EnvFilter::try_new(&raw.level)
        .map_err(|e| ConfigError::invalid("log.level", e.to_string()))?;
    Ok(LogSettings {
        level: raw.level.clone(),
        format,
    })
}
