//! `[push]`: the default Airship app and the device types.

use std::collections::HashMap;

use super::super::formats::http_url;
use super::super::settings::{Backend, PushApp};
use super::super::{ConfigError, PushSection};
use crate::message::Kind;

/// The default push app, when `[push] app_key` is set.
pub(in crate::config) fn push(
    p: &PushSection,
    backends: &HashMap<Kind, Backend>,
) -> Result<Option<PushApp>, ConfigError> {
    let push_base = http_url("push.base_url", &p.base_url)?;
    if p.app_key.trim().is_empty() != p.master_secret.is_empty() {
        return Err(ConfigError::invalid(
            "push.app_key",
            "app_key and master_secret must be set together",
        ));
    }
    if backends[&Kind::Push] == Backend::Airship && p.app_key.trim().is_empty() {
        return Err(ConfigError::invalid(
            "push.app_key",
            "required when push.backend is airship (or set URBANAIRSHIP_APP_KEY and URBANAIRSHIP_MASTER_SECRET)",
        ));
    }
    for t in &p.device_types {
        if !matches!(t.as_str(), "ios" | "android" | "web" | "amazon") {
            return Err(ConfigError::invalid(
                "push.device_types",
                format!("unknown device type {t:?}"),
            ));
        }
    }
    Ok((!p.app_key.trim().is_empty()).then(|| PushApp {
        name: "default".into(),
        app_key: p.app_key.trim().to_owned(),
        master_secret: p.master_secret.clone(),
        base_url: push_base,
    }))
}
