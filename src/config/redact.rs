//! Keeps secrets out of printed configuration: a connection string is parsed
//! by tokio-postgres (the parser that connects with it) and printed again
//! from its parts in libpq's key/value form, the password replaced.

use std::fmt::Write as _;

use serde::Serializer;
use tokio_postgres::config::{ChannelBinding, Host, LoadBalanceHosts, TargetSessionAttrs};

/// What is printed for a connection string tokio-postgres cannot parse (it
/// may hold a password anywhere, so none of it is shown).
pub const UNPARSABLE: &str = "[not a valid PostgreSQL connection string; not shown]";

/// `postgres://app:secret@db/x` → `user=app password=[redacted] host=db dbname=x`.
pub fn redact_url(url: &str) -> String {
    let (prepared, mode, root) = crate::db::sslmode::split_params(url);
    let Ok(config) = prepared.parse::<tokio_postgres::Config>() else {
        return UNPARSABLE.to_owned();
    };
    let mut pairs: Vec<(&str, String)> = Vec::new();
    if let Some(user) = config.get_user() {
        pairs.push(("user", user.to_owned()));
    }
    if config.get_password().is_some() {
        pairs.push(("password", "[redacted]".to_owned()));
    }
    let hosts: Vec<String> = config
        .get_hosts()
        .iter()
        .map(|h| match h {
            Host::Tcp(name) => name.clone(),
            Host::Unix(path) => path.display().to_string(),
        })
        .collect();
    if !hosts.is_empty() {
        pairs.push(("host", hosts.join(",")));
    }
    let addrs: Vec<String> = config
        .get_hostaddrs()
        .iter()
        .map(ToString::to_string)
        .collect();
    if !addrs.is_empty() {
        pairs.push(("hostaddr", addrs.join(",")));
    }
    let ports: Vec<String> = config.get_ports().iter().map(u16::to_string).collect();
    if !ports.is_empty() {
        pairs.push(("port", ports.join(",")));
    }
    if let Some(db) = config.get_dbname() {
        pairs.push(("dbname", db.to_owned()));
    }
    if let Some(mode) = mode {
        pairs.push(("sslmode", mode));
    }
    if let Some(root) = root {
        pairs.push(("sslrootcert", root));
    }
    if let Some(options) = config.get_options() {
        pairs.push(("options", options.to_owned()));
    }
    if let Some(name) = config.get_application_name() {
        pairs.push(("application_name", name.to_owned()));
    }
    if let Some(timeout) = config.get_connect_timeout() {
        pairs.push(("connect_timeout", timeout.as_secs().to_string()));
    }
    match config.get_target_session_attrs() {
        TargetSessionAttrs::ReadWrite => pairs.push(("target_session_attrs", "read-write".into())),
        TargetSessionAttrs::ReadOnly => pairs.push(("target_session_attrs", "read-only".into())),
        _ => {}
    }
    match config.get_channel_binding() {
        ChannelBinding::Disable => pairs.push(("channel_binding", "disable".into())),
        ChannelBinding::Require => pairs.push(("channel_binding", "require".into())),
        _ => {}
    }
    if config.get_load_balance_hosts() == LoadBalanceHosts::Random {
        pairs.push(("load_balance_hosts", "random".into()));
    }
    if !config.get_keepalives() {
        pairs.push(("keepalives", "0".into()));
    }
    let mut out = String::new();
    for (key, value) in pairs {
        if !out.is_empty() {
            out.push(' ');
        }
        let _ = write!(out, "{key}={}", quote(&value));
    }
    out
}

/// A libpq key/value value: single-quoted (with `\'` and `\\`) when it is
/// empty or holds a space, a quote or a backslash.
fn quote(value: &str) -> String {
    if !value.is_empty() && !value.contains([' ', '\'', '\\', '\t', '\n', '\r']) {
        return value.to_owned();
    }
    format!("'{}'", value.replace('\\', "\\\\").replace('\'', "\\'"))
}

pub(super) fn serialize_url<S: Serializer>(url: &str, serializer: S) -> Result<S::Ok, S::Error> {
    if url.is_empty() {
        return serializer.serialize_str("");
    }
    serializer.serialize_str(&redact_url(url))
}

/// Serializes URLs with each password redacted.
pub(super) fn serialize_urls<S: Serializer>(
    urls: &[String],
    serializer: S,
) -> Result<S::Ok, S::Error> {
    serializer.collect_seq(urls.iter().map(|u| redact_url(u)))
}

#[cfg(test)]
mod tests {
    use super::{UNPARSABLE, redact_url};

    #[test]
    fn passwords_never_survive() {
        for (url, printed) in [
            (
                "postgres://app:hunter2@db.example:5432/outpost",
                "user=app password=[redacted] host=db.example port=5432 dbname=outpost",
            ),
            (
                "postgres://app:pa/ss%40w0rd@db/x",
                "user=app password=[redacted] host=db port=5432 dbname=x",
            ),
            (
                "postgres://app@db/outpost?password=hunter2&sslmode=require",
                "user=app password=[redacted] host=db port=5432 dbname=outpost sslmode=require",
            ),
            (
                "host=db user=app password=hunter2 dbname=x",
                "user=app password=[redacted] host=db dbname=x",
            ),
            (
                "host = db user = app password = hunter2 dbname = x",
                "user=app password=[redacted] host=db dbname=x",
            ),
            (
                "host=db user=app password='hunter 2' dbname=x",
                "user=app password=[redacted] host=db dbname=x",
            ),
            (
                "host=db user=app password='it\\'s secret' dbname='my db'",
                "user=app password=[redacted] host=db dbname='my db'",
            ),
            (
                "postgres://u@db/app?sslmode=verify-full&sslrootcert=/etc/ca.pem&application_name=x",
                "user=u host=db port=5432 dbname=app sslmode=verify-full sslrootcert=/etc/ca.pem application_name=x",
            ),
            (
                "postgres://postgres@127.0.0.1/outpost",
                "user=postgres host=127.0.0.1 port=5432 dbname=outpost",
            ),
            ("postgres://app:hunter2@db:notaport/x", UNPARSABLE),
            ("password=hunter2 host='unterminated", UNPARSABLE),
        ] {
            let redacted = redact_url(url);
            assert_eq!(redacted, printed, "{url}");
            assert!(!redacted.contains("hunter"), "{redacted}");
        }
    }
}
