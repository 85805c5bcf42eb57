//! `[console]`: where the console listens (never on the webhook port), how
//! long sessions last, login rate limits, the cookie's `Secure` flag, the
//! Host allow-list and the optional trusted proxy header.

use std::net::IpAddr;

use super::super::settings::{ConsoleSettings, HttpSettings};
use super::super::{ConfigError, ConsoleSection};
use super::{at_least_one, listen, positive, same_port};

pub(in crate::config) fn console(
    raw: &ConsoleSection,
    http: &HttpSettings,
) -> Result<ConsoleSettings, ConfigError> {
    let listen = listen("console.listen", &raw.listen, "127.0.0.1:8026")?;
    if raw.enabled && http.enabled && same_port(listen, http.listen) {
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
    let limits = login_limits(raw)?;
    let secure_cookie = match raw.secure_cookie.trim() {
        "auto" => !listen.ip().is_loopback(),
        "true" => true,
        "false" => false,
        other => {
            return Err(ConfigError::invalid(
                "console.secure_cookie",
                format!("{other:?}: auto, true or false"),
            ));
        }
    };
    Ok(ConsoleSettings {
        enabled: raw.enabled,
        listen,
        session_idle: raw.session_idle,
        login_burst: raw.login_burst,
        login_period: raw.login_period,
        proxy_user_header,
        proxy_addresses,
        statement_timeout: raw.statement_timeout,
        session_lifetime: raw.session_lifetime,
        login_address_burst: limits.0,
        login_max_entries: limits.1,
        login_concurrency: limits.2,
        secure_cookie,
        allowed_hosts: allowed_hosts(&raw.allowed_hosts)?,
        header_timeout: positive("console.header_timeout", raw.header_timeout)?,
        keep_alive_timeout: positive("console.keep_alive_timeout", raw.keep_alive_timeout)?,
        max_connections: at_least_one("console.max_connections", raw.max_connections)?,
        pool_size: pool_size(raw.pool_size)?,
    })
}

/// `session_lifetime` and the login limiter's bounds, checked.
fn login_limits(raw: &ConsoleSection) -> Result<(u32, usize, usize), ConfigError> {
    if raw.session_lifetime.is_zero() {
        return Err(ConfigError::invalid(
            "console.session_lifetime",
            "must be longer than zero",
        ));
    }
    if raw.login_address_burst == 0 {
        return Err(ConfigError::invalid(
            "console.login_address_burst",
            "must be at least 1",
        ));
    }
    if !(100..=10_000_000).contains(&raw.login_max_entries) {
        return Err(ConfigError::invalid(
            "console.login_max_entries",
            "must be from 100 to 10000000",
        ));
    }
    if !(1..=1024).contains(&raw.login_concurrency) {
        return Err(ConfigError::invalid(
            "console.login_concurrency",
            "must be from 1 to 1024",
        ));
    }
    Ok((
        raw.login_address_burst,
        raw.login_max_entries,
        raw.login_concurrency,
    ))
}

/// Host names as the Host header carries them (no port), lowercase.
fn allowed_hosts(raw: &[String]) -> Result<Vec<String>, ConfigError> {
    raw.iter()
        .map(|h| {
            let h = h.trim().trim_end_matches('.').to_ascii_lowercase();
            let valid = !h.is_empty()
                && h.len() <= 253
                && h.chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'));
            if valid {
                Ok(h)
            } else {
                Err(ConfigError::invalid(
                    "console.allowed_hosts",
                    format!("{h:?} is not a host name (no port, no scheme)"),
                ))
            }
        })
        .collect()
}

/// `console.pool_size`: from 1 to 64 connections.
fn pool_size(size: usize) -> Result<usize, ConfigError> {
    if (1..=64).contains(&size) {
        Ok(size)
    } else {
        Err(ConfigError::invalid(
            "console.pool_size",
            "must be between 1 and 64",
        ))
    }
}
