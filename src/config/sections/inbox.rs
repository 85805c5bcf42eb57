//! `[inbox]`: the real-time inbox's origins, stream caps, heartbeat and
//! replay bound.

use super::super::settings::InboxSettings;
use super::super::{ConfigError, InboxSection};
use super::{at_least_one, positive};

pub(in crate::config) fn inbox(raw: &InboxSection) -> Result<InboxSettings, ConfigError> {
    let mut allowed_origins = Vec::new();
    for origin in &raw.allowed_origins {
        let origin = origin.trim().trim_end_matches('/');
        let valid = (origin.starts_with("https://") || origin.starts_with("http://"))
            && !origin.contains(['?', '#', ' '])
            && origin.splitn(4, '/').count() == 3
            && axum::http::HeaderValue::from_str(origin).is_ok();
        if !valid {
            return Err(ConfigError::invalid(
                "inbox.allowed_origins",
                format!("{origin:?} is not an origin like https://dashboard.example.com"),
            ));
        }
        allowed_origins.push(origin.to_owned());
    }
    let heartbeat = positive("inbox.heartbeat", raw.heartbeat)?;
    if heartbeat > std::time::Duration::from_secs(300) {
        return Err(ConfigError::invalid(
            "inbox.heartbeat",
            "must be at most 5m (proxies close idle connections)",
        ));
    }
    if raw.replay_limit > 10_000 {
        return Err(ConfigError::invalid(
            "inbox.replay_limit",
            "must be at most 10000",
        ));
    }
    Ok(InboxSettings {
        enabled: raw.enabled,
        allowed_origins,
        max_streams: at_least_one("inbox.max_streams", raw.max_streams)?,
        max_streams_per_user: at_least_one("inbox.max_streams_per_user", raw.max_streams_per_user)?,
        heartbeat,
        replay_limit: raw.replay_limit,
    })
}
