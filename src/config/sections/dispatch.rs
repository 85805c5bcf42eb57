//! `[dispatch]` and `[retry]`: batch sizes, concurrency per kind, leases and
//! timeouts, the circuit breaker, and the retry budget.

use std::collections::HashMap;

use super::super::settings::{BreakerSettings, DispatchSettings, RetrySettings};
use super::super::{ConfigError, DispatchSection, RetrySection};
use super::{positive, rate};
use crate::message::Kind;

pub(in crate::config) fn dispatch(d: &DispatchSection) -> Result<DispatchSettings, ConfigError> {
    if !(1..=10_000).contains(&d.batch_size) {
        return Err(ConfigError::invalid(
            "dispatch.batch_size",
            "must be between 1 and 10000",
        ));
    }
    if !(1..=100_000).contains(&d.concurrency) {
        return Err(ConfigError::invalid(
            "dispatch.concurrency",
            "must be between 1 and 100000",
        ));
    }
    let mut kind_concurrency = HashMap::new();
    for (name, limit) in &d.kind_concurrency {
        let key = format!("dispatch.kind_concurrency.{name}");
        let kind: Kind = name
            .parse()
            .map_err(|e: crate::message::UnknownKind| ConfigError::invalid(&key, e.to_string()))?;
        if *limit == 0 {
            return Err(ConfigError::invalid(&key, "must be at least 1"));
        }
        kind_concurrency.insert(kind, (*limit).min(d.concurrency));
    }
    for kind in Kind::ALL {
        kind_concurrency.entry(kind).or_insert(d.concurrency);
    }
    let dispatch = DispatchSettings {
        batch_size: d.batch_size,
        concurrency: d.concurrency,
        kind_concurrency,
        lease: positive("dispatch.lease", d.lease)?,
        send_timeout: positive("dispatch.send_timeout", d.send_timeout)?,
        poll_interval: positive("dispatch.poll_interval", d.poll_interval)?,
        rescue_interval: positive("dispatch.rescue_interval", d.rescue_interval)?,
        shutdown_grace: d.shutdown_grace,
        breaker: BreakerSettings {
            min_calls: d.breaker_min_calls,
            failure_rate: rate("dispatch.breaker_failure_rate", d.breaker_failure_rate)?,
            window: positive("dispatch.breaker_window", d.breaker_window)?,
            open_for: positive("dispatch.breaker_open", d.breaker_open)?,
        },
    };
    if dispatch.lease <= dispatch.send_timeout {
        return Err(ConfigError::invalid(
            "dispatch.lease",
            format!(
                "must be longer than dispatch.send_timeout ({}), or live sends would be rescued",
                super::super::duration::format(dispatch.send_timeout)
            ),
        ));
    }
    Ok(dispatch)
}

pub(in crate::config) fn retry(r: &RetrySection) -> Result<RetrySettings, ConfigError> {
    let retry = RetrySettings {
        base: positive("retry.base", r.base)?,
        cap: positive("retry.cap", r.cap)?,
        max_attempts: r.max_attempts,
    };
    if retry.cap < retry.base {
        return Err(ConfigError::invalid(
            "retry.cap",
            "must not be shorter than retry.base",
        ));
    }
    if !(1..=1000).contains(&r.max_attempts) {
        return Err(ConfigError::invalid(
            "retry.max_attempts",
            "must be between 1 and 1000",
        ));
    }
    Ok(retry)
}
