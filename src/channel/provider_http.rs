//! What every HTTP provider shares: one client setup, a network error turned
//! into a transient failure without the URL, and Retry-After.

use std::time::Duration;

use reqwest::header::HeaderMap;

use super::SendError;

/// A keep-alive client with `timeout` per request (the crypto provider installed).
pub fn client(timeout: Duration) -> Result<reqwest::Client, SendError> {
    crate::tls::install_crypto_provider();
    reqwest::Client::builder()
        .timeout(timeout)
        .user_agent(concat!("outpost/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| SendError::permanent(format!("cannot build the HTTP client: {e}")))
}

/// A request that got no answer: transient, described without its URL and
/// with its causes. `timeout_note` is added when it timed out.
pub fn network_error(provider: &str, e: reqwest::Error, timeout_note: &str) -> SendError {
    let what = if e.is_timeout() {
        format!("timed out{timeout_note}")
    } else {
        "unreachable".to_owned()
    };
    let e = e.without_url();
    let mut text = e.to_string();
    let mut source = std::error::Error::source(&e);
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    SendError::transient(format!("{provider} {what}: {text}"))
}

/// Retry-After (seconds or an HTTP date), else X-RateLimit-Reset (unix seconds).
pub fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let now = chrono::Utc::now();
    if let Some(value) = headers.get("retry-after").and_then(|v| v.to_str().ok()) {
        if let Ok(secs) = value.trim().parse::<u64>() {
            return Some(Duration::from_secs(secs));
        }
        if let Ok(at) = chrono::DateTime::parse_from_rfc2822(value.trim()) {
            return Some(
                (at.with_timezone(&chrono::Utc) - now)
                    .to_std()
                    .unwrap_or_default(),
            );
        }
    }
    let reset = headers
        .get("x-ratelimit-reset")
        .and_then(|v| v.to_str().ok())?
        .trim()
        .parse::<i64>()
        .ok()?;
    Some(Duration::from_secs(
        reset.saturating_sub(now.timestamp()).max(0).unsigned_abs(),
    ))
}
