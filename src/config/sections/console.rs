//! `[console]`: where the console listens (never on the webhook port), how
//! long sessions last, login rate limits and the optional trusted proxy header.

use std::net::{IpAddr, SocketAddr};

use super::super::settings::{ConsoleSettings, HttpSettings};
use super::super::{ConfigError, ConsoleSection};

pub(in crate::config) fn console(
    raw: &ConsoleSection,
    http: &HttpSettings,
) -> Result<ConsoleSettings, ConfigError> {
    let listen: SocketAddr = raw.listen.trim().parse().map_err(|e| {
        ConfigError::invalid(
            "console.listen",
            format!("not an address like 127.0.0.1:8026: {e}"),
        )
    })?;
    let overlaps = |a: IpAddr, b: IpAddr| a == b || a.is_unspecified() || b.is_unspecified();
    if raw.enabled
        && http.enabled
        && listen.port() != 0
        && listen.port() == http.listen.port()
        && overlaps(listen.ip(), http.listen.ip())
    {
        return Err(ConfigError::invalid(
            "console.listen",
            "must not be the webhook port (http.listen): the console has its own listener",
        ));
    }
    if raw.session_idle.is_zero() {
        return Err(ConfigError::invalid(
            "console.session_idle",
            "must be longer than zero",
        ));
    }
    if raw.login_burst == 0 {
        return Err(ConfigError::invalid(
            "console.login_burst",
            "must be at least 1",
        ));
    }
    if raw.login_period.is_zero() {
        return Err(ConfigError::invalid(
            "console.login_period",
            "must be longer than zero",
        ));
    }
    if raw.statement_timeout < std::time::Duration::from_millis(1) {
        return Err(ConfigError::invalid(
            "console.statement_timeout",
            "must be at least 1ms (PostgreSQL reads 0 as no limit)",
        ));
    }
    let proxy_user_header = match raw.proxy_user_header.trim() {
        "" => None,
        name => Some(axum::http::HeaderName::try_from(name).map_err(|_| {
            ConfigError::invalid(
                "console.proxy_user_header",
                format!("{name:?} is not a valid header name"),
            )
        })?),
    };
    let proxy_addresses = raw
        .proxy_addresses
        .iter()
        .map(|a| {
            a.trim().parse().map_err(|_| {
                ConfigError::invalid(
                    "console.proxy_addresses",
                    format!("{a:?} is not an IP address"),
                )
            })
        })
        .collect::<Result<Vec<IpAddr>, _>>()?;
    Ok(ConsoleSettings {
        enabled: raw.enabled,
        listen,
        session_idle: raw.session_idle,
        login_burst: raw.login_burst,
        login_period: raw.login_period,
        proxy_user_header,
        proxy_addresses,
        statement_timeout: raw.statement_timeout,
    })
}
