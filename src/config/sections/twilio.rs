//! `[twilio]`: credentials, the sender, the callback URL, limits and voices.

use std::collections::HashMap;

use super::super::ConfigError;
use super::super::settings::{TwilioSettings, Voice};

pub(in crate::config) fn twilio(
    raw: &super::super::TwilioSection,
    public_url: &str,
) -> Result<TwilioSettings, ConfigError> {
    let base = super::super::formats::http_url("twilio.base_url", &raw.base_url)?;
    let default_region = match raw.default_region.trim() {
        "" => None,
        region => Some(region.to_ascii_uppercase().parse().map_err(|_| {
            ConfigError::invalid(
                "twilio.default_region",
                format!("unknown region {region:?} (use e.g. IE, GB, US)"),
            )
        })?),
    };
    let from = raw.from.trim();
    if !from.is_empty() {
        super::super::formats::sender_number("twilio.from", from, default_region)?;
    } else if raw.messaging_service_sid.trim().is_empty() {
        return Err(ConfigError::invalid(
            "twilio.from",
            "must be set unless twilio.messaging_service_sid is",
        ));
    }
    if raw.max_segments == 0 {
        return Err(ConfigError::invalid(
            "twilio.max_segments",
            "must be at least 1",
        ));
    }
    let mut voices = HashMap::new();
    for (lang, v) in &raw.voices {
        let key = format!("twilio.voices.{lang}");
        if v.language.trim().is_empty() || v.voice.trim().is_empty() {
            return Err(ConfigError::invalid(&key, "needs both language and voice"));
        }
        voices.insert(
            crate::render::catalog::normalise(lang),
            Voice {
                language: v.language.trim().to_owned(),
                voice: v.voice.trim().to_owned(),
            },
        );
    }
    let default_language = crate::render::catalog::normalise(&raw.voice_default_language);
    if raw.voice_fallback && !voices.contains_key(&default_language) {
        return Err(ConfigError::invalid(
            "twilio.voice_default_language",
            format!("{default_language:?} has no entry in twilio.voices"),
        ));
    }
    Ok(TwilioSettings {
        account_sid: raw.account_sid.trim().to_owned(),
        auth_token: raw.auth_token.clone(),
        from: raw.from.trim().to_owned(),
        messaging_service_sid: Some(raw.messaging_service_sid.trim().to_owned())
            .filter(|s| !s.is_empty()),
        base_url: base,
        public_url: Some(public_url.to_owned()).filter(|s| !s.is_empty()),
        default_region,
        rate_limit: raw.rate_limit,
        max_segments: raw.max_segments,
        voice_fallback: raw.voice_fallback,
        voice_default_language: default_language,
        voices,
    })
}
