//! `[quiet_hours]`: the global and per-tenant default windows, the kinds
//! they hold back and the priority that bypasses them.

use std::collections::HashMap;

use super::super::settings::QuietHoursSettings;
use super::super::{ConfigError, QuietHoursSection};
use crate::message::Kind;
use crate::quiet_hours::{Window, WindowError};

pub(in crate::config) fn quiet_hours(
    q: &QuietHoursSection,
) -> Result<QuietHoursSettings, ConfigError> {
    let window = |key: &str, text: &str| -> Result<Option<Window>, ConfigError> {
        match text.trim() {
            "" => Ok(None),
            text => text
                .parse()
                .map(Some)
                .map_err(|e: WindowError| ConfigError::invalid(key, e.to_string())),
        }
    };
    let mut tenants = HashMap::new();
    for (tenant, text) in &q.tenants {
        let key = format!("quiet_hours.tenants.{tenant}");
        if let Some(w) = window(&key, text)? {
            tenants.insert(tenant.clone(), w);
        }
    }
    let kinds = q
        .kinds
        .iter()
        .map(|k| {
            k.trim()
                .parse::<Kind>()
                .map_err(|e| ConfigError::invalid("quiet_hours.kinds", e.to_string()))
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(QuietHoursSettings {
        default: window("quiet_hours.default", &q.default)?,
        tenants,
        kinds,
        bypass_priority: q.bypass_priority,
    })
}
