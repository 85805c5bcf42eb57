//! The request span every access-log line carries (`method`, `uri`,
//! `version`, as tower-http's default), with what must not reach the logs
//! taken out of the URI: an unsubscribe link's token (it unsubscribes whoever
//! holds it) and any query string (callers put credentials there).

use std::borrow::Cow;

use axum::http::{Request, Uri};
use tower_http::trace::MakeSpan;
use tracing::Span;

/// What replaces a secret part of the URI.
pub const REDACTED: &str = "[redacted]";

/// `uri` as the logs show it: the path, the unsubscribe token replaced, a
/// query string replaced.
pub fn loggable(uri: &Uri) -> Cow<'_, str> {
    let path = uri.path();
    let path = match path.strip_prefix("/unsubscribe/") {
        Some(_) => Cow::Owned(format!("/unsubscribe/{REDACTED}")),
        None => Cow::Borrowed(path),
    };
    match uri.query() {
        Some(_) => Cow::Owned(format!("{path}?{REDACTED}")),
        None => path,
    }
}

/// The span of one request, at INFO.
#[derive(Debug, Clone, Copy, Default)]
pub struct RequestSpan;

impl<B> MakeSpan<B> for RequestSpan {
    fn make_span(&mut self, request: &Request<B>) -> Span {
        tracing::info_span!(
            "request",
            method = %request.method(),
            uri = %loggable(request.uri()),
            version = ?request.version(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_and_queries_are_left_out() {
        let cases = [
            ("/healthz", "/healthz"),
            ("/unsubscribe/v1.eyJ3Ijp7.SIG", "/unsubscribe/[redacted]"),
            (
                "/unsubscribe/v1.a.b?x=1",
                "/unsubscribe/[redacted]?[redacted]",
            ),
            (
                "/inbound/sendgrid?key=s3cret",
                "/inbound/sendgrid?[redacted]",
            ),
        ];
        for (uri, shown) in cases {
            assert_eq!(loggable(&uri.parse().unwrap()), shown);
        }
    }
}
