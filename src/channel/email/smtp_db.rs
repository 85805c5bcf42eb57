//! `smtp_db`: the SMTP server stored in `outpost.smtp_servers` (enabled, lowest
//! `order`), read for every e-mail so a change applies without a restart;
//! the connection pool is rebuilt only when the row changes. A stored
//! password is never sent in plain text (`security = none`) off loopback,
//! nor a user name without its password (`credentials_refused`).

use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use deadpool_postgres::Pool;

use std::net::IpAddr;

use super::smtp::SmtpMail;
use super::{Email, MailTransport};
use crate::channel::{Delivery, SendError};
use crate::config::{Secret, SmtpSettings};
use crate::db::Pg;
use crate::db::statements;

/// The row's connection settings: the cache key.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Server {
    id: i64,
    name: String,
    host: String,
    port: u16,
    username: String,
    password: Secret,
    security: String,
    timeout_seconds: i32,
}

pub struct SmtpDbMail {
    pool: Pool,
    /// Extra trusted CA from `[email.smtp] ca_file`.
    ca_pem: Option<Vec<u8>>,
    pool_size: u32,
    current: Mutex<Option<(Server, Arc<SmtpMail>)>>,
}

impl SmtpDbMail {
    pub fn new(pool: Pool, ca_pem: Option<Vec<u8>>, pool_size: u32) -> Self {
        Self {
            pool,
            ca_pem,
            pool_size,
            current: Mutex::new(None),
        }
    }

    async fn server(&self) -> Result<Server, SendError> {
        let unavailable =
            |e: String| SendError::transient(format!("cannot read outpost.smtp_servers: {e}"));
        let client = self
            .pool
            .get()
            .await
            .map_err(|e| unavailable(e.to_string()))?;
        let row = client
            .pg_query_opt(statements::SMTP_SERVER, &[])
            .await
            .map_err(|e| unavailable(e.to_string()))?
            .ok_or_else(|| {
                SendError::transient("no enabled SMTP server in outpost.smtp_servers")
            })?;
        Ok(Server {
            id: row.get("id"),
            name: row.get("name"),
            host: row.get("host"),
            port: u16::try_from(row.get::<_, i32>("port")).unwrap_or(25),
            username: row.get("username"),
            password: Secret::new(row.get::<_, String>("password")),
            security: row.get("security"),
            timeout_seconds: row.get("timeout_seconds"),
        })
    }

    fn transport(&self, server: Server) -> Result<Arc<SmtpMail>, SendError> {
        if let Some(why) = credentials_refused(
            &server.name,
            &server.host,
            server.port,
            &server.username,
            server.password.is_empty(),
            &server.security,
        ) {
            // The operator fixes the row; until then messages wait.
            return Err(SendError::transient(why));
        }
        let mut current = self
            .current
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some((cached, transport)) = current.as_ref()
            && *cached == server
        {
            return Ok(transport.clone());
        }
        let settings = SmtpSettings {
            host: server.host.clone(),
            port: server.port,
            username: server.username.clone(),
            password: server.password.clone(),
            use_tls: server.security == "starttls",
            use_ssl: server.security == "tls",
            timeout: Duration::from_secs(server.timeout_seconds.max(1) as u64),
            ca_pem: self.ca_pem.clone(),
            pool_size: self.pool_size,
            idle_check: crate::channel::email::smtp_pool::DEFAULT_IDLE_CHECK,
        };
        let transport = Arc::new(SmtpMail::new("smtp_db", &settings)?);
        tracing::info!(server = %server.name, host = %server.host, port = server.port, "using SMTP server from outpost.smtp_servers");
        *current = Some((server, transport.clone()));
        Ok(transport)
    }
}

#[async_trait]
impl MailTransport for SmtpDbMail {
    fn name(&self) -> &str {
        "smtp_db"
    }

    async fn deliver(&self, email: &Email) -> Result<Delivery, SendError> {
        let server = self.server().await?;
        let name = server.name.clone();
        let transport = self.transport(server)?;
        transport.deliver(email).await.map_err(|mut e| {
            e.message = format!("[{name}] {}", e.message);
            e
        })
    }
}

/// Whether `host` names this machine: `localhost` or a loopback IP literal
/// (no lookup: a name that merely resolves to 127.0.0.1 does not count).
pub fn is_loopback_host(host: &str) -> bool {
    let host = host.trim();
    let host = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host);
    let host = host.strip_suffix('.').unwrap_or(host);
    host.eq_ignore_ascii_case("localhost")
        || host
            .parse::<IpAddr>()
            .is_ok_and(|ip| ip.to_canonical().is_loopback())
}

/// Why a stored server's credentials must not be used, checked before any
/// connection: a password in plain text (`security = none`) to a host off
/// loopback, or a user name whose password was cleared (the console clears
/// it when the host, port, user name or security changes).
pub fn credentials_refused(
    name: &str,
    host: &str,
    port: u16,
    username: &str,
    password_empty: bool,
    security: &str,
) -> Option<String> {
    if username.is_empty() {
        return None;
    }
    if password_empty {
        return Some(format!(
            "SMTP server {name} ({host}:{port}) has a user name but no password (it is cleared \
             when the host, port, user name or security changes): type the password again"
        ));
    }
    if security == "none" && !is_loopback_host(host) {
        return Some(format!(
            "SMTP server {name} ({host}:{port}): refusing to send the password in plain text \
             (security = none) to a host that is not loopback; use starttls or tls"
        ));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plaintext_auth_only_to_loopback() {
        for host in [
            "localhost",
            "LOCALHOST.",
            "127.0.0.1",
            "127.8.9.1",
            "::1",
            "[::1]",
            "::ffff:127.0.0.1",
        ] {
            assert!(is_loopback_host(host), "{host}");
            assert_eq!(credentials_refused("n", host, 25, "u", false, "none"), None);
        }
        for host in [
            "smtp.example.com",
            "192.0.2.1",
            "localhost.example.com",
            "10.0.0.1",
            "::",
        ] {
            assert!(!is_loopback_host(host), "{host}");
            let why = credentials_refused("n", host, 25, "u", false, "none").unwrap();
            assert!(why.contains("plain text") && why.contains(host), "{why}");
            assert_eq!(
                credentials_refused("n", host, 25, "u", false, "starttls"),
                None
            );
            assert_eq!(credentials_refused("n", host, 25, "", true, "none"), None);
        }
        let why = credentials_refused("n", "smtp.example.com", 587, "u", true, "starttls").unwrap();
        assert!(why.contains("no password"), "{why}");
    }
}
