//! SMTP: pooled connections with `TCP_NODELAY` (see `smtp_pool`), STARTTLS
//! (`use_tls`) or implicit TLS (`use_ssl`), AUTH, a timeout; reply codes
//! classified (4xx transient, 5xx permanent, connection problems transient).

use std::sync::Arc;

use async_trait::async_trait;
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Certificate, TlsParameters};
use lettre::transport::smtp::extension::ClientId;
use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;

use super::smtp_pool::{self, ConnectError, Connector, Pool};
use super::{Email, MailTransport, compose};
use crate::channel::{Delivery, SendError};
use crate::config::SmtpSettings;

/// One SMTP server.
pub struct SmtpMail {
    name: String,
    label: String,
    timeout: std::time::Duration,
    pool: Pool,
}

impl SmtpMail {
    /// A transport for `settings` (no connection is made until the first send).
    pub fn new(name: &str, settings: &SmtpSettings) -> Result<Self, SendError> {
        crate::tls::install_crypto_provider();
        let security = if settings.use_ssl {
            smtp_pool::Security::Implicit(Arc::new(implicit_tls_config(settings)?))
        } else if settings.use_tls {
            let mut builder = TlsParameters::builder(settings.host.clone());
            if let Some(pem) = &settings.ca_pem {
                let cert = Certificate::from_pem(pem).map_err(|e| {
                    SendError::permanent(format!("invalid email.smtp.ca_file: {e}"))
                })?;
                builder = builder.add_root_certificate(cert);
            }
            smtp_pool::Security::StartTls(builder.build_rustls().map_err(|e| {
                SendError::permanent(format!("TLS setup for {} failed: {e}", settings.host))
            })?)
        } else {
            smtp_pool::Security::None
        };
        let credentials = (!settings.username.is_empty()).then(|| {
            Credentials::new(
                settings.username.clone(),
                settings.password.expose().to_owned(),
            )
        });
        let connector = Connector {
            host: settings.host.clone(),
            port: settings.port,
            timeout: settings.timeout,
            security,
            credentials,
            hello: ClientId::default(),
            idle_check: settings.idle_check,
        };
        let pool = connector
            .into_pool(settings.pool_size as usize)
            .map_err(|e| SendError::permanent(format!("SMTP pool setup failed: {e}")))?;
        Ok(Self {
            name: name.to_owned(),
            label: format!("{}:{}", settings.host, settings.port),
            timeout: settings.timeout,
            pool,
        })
    }

    /// Sends `message` on a pooled connection; a connection that failed or
    /// timed out mid-transaction is discarded, never reused.
    async fn send(&self, message: &lettre::Message) -> Result<(), SendError> {
        let mut conn = self.pool.get().await.map_err(|e| match e {
            deadpool::managed::PoolError::Backend(e) => self.connect_error(&e),
            other => SendError::transient(format!("SMTP server {}: {other}", self.label)),
        })?;
        let bytes = message.formatted();
        match tokio::time::timeout(self.timeout, conn.send(message.envelope(), &bytes)).await {
            Ok(Ok(_)) => Ok(()),
            Ok(Err(e)) => Err(classify(&self.label, &e)),
            Err(_) => {
                drop(deadpool::managed::Object::take(conn));
                Err(SendError::transient(format!(
                    "SMTP server {} timed out after {:?}",
                    self.label, self.timeout
                )))
            }
        }
    }

    /// Opens one connection (TCP, TLS, AUTH) and closes it with QUIT,
    /// sending no mail: the console's "test connection".
    pub async fn test_connection(&self) -> Result<(), SendError> {
        let conn = self.pool.get().await.map_err(|e| match e {
            deadpool::managed::PoolError::Backend(e) => self.connect_error(&e),
            other => SendError::transient(format!("SMTP server {}: {other}", self.label)),
        })?;
        let mut conn = deadpool::managed::Object::take(conn);
        let _ = tokio::time::timeout(self.timeout, conn.quit()).await;
        Ok(())
    }

    fn connect_error(&self, e: &ConnectError) -> SendError {
        match e {
            ConnectError::Smtp(e) => classify(&self.label, e),
            ConnectError::NoStartTls => SendError::transient(format!(
                "SMTP server {} does not offer STARTTLS, which use_tls requires",
                self.label
            )),
            ConnectError::Io(e) => {
                SendError::transient(format!("SMTP server {} unreachable: {e}", self.label))
            }
        }
    }
}

/// Roots for implicit TLS: the system's, plus `ca_file` when set.
fn implicit_tls_config(settings: &SmtpSettings) -> Result<rustls::ClientConfig, SendError> {
    let mut roots = rustls::RootCertStore::empty();
    for cert in rustls_native_certs::load_native_certs().certs {
        let _ = roots.add(cert);
    }
    if let Some(pem) = &settings.ca_pem {
        let invalid = |e: String| SendError::permanent(format!("invalid email.smtp.ca_file: {e}"));
        for cert in CertificateDer::pem_slice_iter(pem) {
            roots
                .add(cert.map_err(|e| invalid(e.to_string()))?)
                .map_err(|e| invalid(e.to_string()))?;
        }
    }
    Ok(rustls::ClientConfig::builder()
        .with_root_certificates(roots)
        .with_no_client_auth())
}

#[async_trait]
impl MailTransport for SmtpMail {
    fn name(&self) -> &str {
        &self.name
    }

    async fn deliver(&self, email: &Email) -> Result<Delivery, SendError> {
        let message = compose::to_mime(email)?;
        self.send(&message).await?;
        Ok(Delivery::id(Some(email.message_id.clone())))
    }
}

/// 5xx replies are permanent; 4xx replies, timeouts and connection or TLS
/// failures are transient.
pub fn classify(server: &str, e: &lettre::transport::smtp::Error) -> SendError {
    let code = e.status().map(|c| c.to_string());
    let error = if e.is_permanent() {
        SendError::permanent(format!("SMTP server {server} refused: {e}"))
    } else if e.is_transient() {
        SendError::transient(format!("SMTP server {server} deferred: {e}"))
    } else if e.is_timeout() {
        SendError::transient(format!("SMTP server {server} timed out: {e}"))
    } else {
        SendError::transient(format!("SMTP server {server} unreachable: {e}"))
    };
    match code {
        Some(code) => error.with_code(code),
        None => error,
    }
}
