//! `[limits]`: the country prefixes SMS and voice may go to, and how many
//! one number is sent in an hour.

use super::super::settings::LimitsSettings;
use super::super::{ConfigError, LimitsSection};

pub(in crate::config) fn limits(raw: &LimitsSection) -> Result<LimitsSettings, ConfigError> {
    let mut phone_prefixes = Vec::with_capacity(raw.phone_prefixes.len());
    for prefix in &raw.phone_prefixes {
        let digits = prefix.strip_prefix('+').unwrap_or("");
        if digits.is_empty() || digits.len() > 6 || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return Err(ConfigError::invalid(
                "limits.phone_prefixes",
                format!("{prefix:?} is not an E.164 prefix such as \"+353\""),
            ));
        }
        phone_prefixes.push(prefix.clone());
    }
    Ok(LimitsSettings {
        phone_prefixes,
        phone_per_hour: raw.phone_per_hour,
    })
}
