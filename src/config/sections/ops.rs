//! `[ops]`: the operations listener (health, readiness and metrics apart
//! from the port providers reach), its bearer token for `/metrics`, and how
//! often the queue gauges are refreshed.

use super::super::settings::{ConsoleSettings, HttpSettings, OpsSettings};
use super::super::{ConfigError, OpsSection};
use super::{at_least_one, listen, positive, same_port};

pub(in crate::config) fn ops(
    raw: &OpsSection,
    http: &HttpSettings,
    console: &ConsoleSettings,
) -> Result<OpsSettings, ConfigError> {
    let listen = listen("ops.listen", &raw.listen, "127.0.0.1:8027")?;
    if raw.enabled && http.enabled && same_port(listen, http.listen) {
        return Err(ConfigError::invalid(
            "ops.listen",
            "must not be the webhook port (http.listen): the operations listener is apart from it",
        ));
    }
    if raw.enabled && console.enabled && same_port(listen, console.listen) {
        return Err(ConfigError::invalid(
            "ops.listen",
            "must not be the console's port (console.listen)",
        ));
    }
    let refresh_interval = positive("ops.refresh_interval", raw.refresh_interval)?;
    if refresh_interval < std::time::Duration::from_secs(1) {
        return Err(ConfigError::invalid(
            "ops.refresh_interval",
            "must be at least 1s",
        ));
    }
    Ok(OpsSettings {
        enabled: raw.enabled,
        listen,
        metrics_token: (!raw.metrics_token.is_empty()).then(|| raw.metrics_token.clone()),
        refresh_interval,
        max_connections: at_least_one("ops.max_connections", raw.max_connections)?,
    })
}
