//! `[limits]`: the country prefixes SMS and voice may go to, how many one
//! number is sent in an hour, and each tenant's daily caps and rates.

use super::super::settings::LimitsSettings;
use super::super::{ConfigError, LimitsSection};
use crate::message::Kind;

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
    let mut daily = std::collections::HashMap::new();
    for (tenant, kinds) in &raw.daily {
        for (kind, cap) in kinds {
            let key = format!("limits.daily.{tenant}.{kind}");
            let kind: Kind = kind.parse().map_err(|e: crate::message::UnknownKind| {
                ConfigError::invalid(&key, e.to_string())
            })?;
            daily.insert((tenant.clone(), kind), *cap);
        }
    }
    let mut rate = std::collections::BTreeMap::new();
    for (tenant, kinds) in &raw.rate {
        for (kind, per_second) in kinds {
            let key = format!("limits.rate.{tenant}.{kind}");
            let kind: Kind = kind.parse().map_err(|e: crate::message::UnknownKind| {
                ConfigError::invalid(&key, e.to_string())
            })?;
            if !(per_second.is_finite() && *per_second > 0.0 && *per_second <= 1_000_000.0) {
                return Err(ConfigError::invalid(
                    &key,
                    format!(
                        "{per_second} is not a rate in messages a second (above 0, at most 1000000)"
                    ),
                ));
            }
            rate.insert((tenant.clone(), kind), *per_second);
        }
    }
    Ok(LimitsSettings {
        phone_prefixes,
        phone_per_hour: raw.phone_per_hour,
        daily,
        rate,
    })
}
