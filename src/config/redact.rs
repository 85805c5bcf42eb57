//! Keeps secrets out of printed configuration: connection URLs lose their password.

use serde::Serializer;

/// `postgres://user:secret@host/db` → `postgres://user:[redacted]@host/db`.
/// Key/value connection strings get `password=[redacted]`.
pub fn redact_url(url: &str) -> String {
    if let Some((scheme, rest)) = url.split_once("://") {
        // The userinfo ends at the last '@' before the path.
        let authority_end = rest.find('/').unwrap_or(rest.len());
        let authority = &rest[..authority_end];
        if let Some(at) = authority.rfind('@') {
            let userinfo = &authority[..at];
            if let Some((user, _password)) = userinfo.split_once(':') {
                return format!("{scheme}://{user}:[redacted]{}", &rest[at..]);
            }
        }
        return redact_query_password(url);
    }
    url.split_whitespace()
        .map(|pair| match pair.split_once('=') {
            Some((key, _)) if key.eq_ignore_ascii_case("password") => {
                format!("{key}=[redacted]")
            }
            _ => pair.to_owned(),
        })
        .collect::<Vec<_>>()
        .join(" ")
}

fn redact_query_password(url: &str) -> String {
    let Some((base, query)) = url.split_once('?') else {
        return url.to_owned();
    };
    let query = query
        .split('&')
        .map(|pair| match pair.split_once('=') {
            Some((key, _)) if key.eq_ignore_ascii_case("password") => {
                format!("{key}=[redacted]")
            }
            _ => pair.to_owned(),
        })
        .collect::<Vec<_>>()
        .join("&");
    format!("{base}?{query}")
}

pub(super) fn serialize_url<S: Serializer>(url: &str, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_str(&redact_url(url))
}

#[cfg(test)]
mod tests {
    use super::redact_url;

    #[test]
    fn passwords_never_survive() {
        assert_eq!(
            redact_url("postgres://app:s3cr@t@db.example:5432/outpost"),
            "postgres://app:[redacted]@db.example:5432/outpost"
        );
        assert_eq!(
            redact_url("postgres://app@db/outpost?password=hunter2&sslmode=require"),
            "postgres://app@db/outpost?password=[redacted]&sslmode=require"
        );
        assert_eq!(
            redact_url("host=db user=app password=hunter2 dbname=x"),
            "host=db user=app password=[redacted] dbname=x"
        );
        assert_eq!(
            redact_url("postgres://postgres@127.0.0.1/outpost"),
            "postgres://postgres@127.0.0.1/outpost"
        );
    }
}
