//! SMTP through lettre: pooled connections, STARTTLS (`use_tls`) or implicit
//! TLS (`use_ssl`), AUTH, a timeout; reply codes classified (4xx transient,
//! 5xx permanent, connection problems transient).

use async_trait::async_trait;
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Certificate, Tls, TlsParameters};
use lettre::transport::smtp::{AsyncSmtpTransport, PoolConfig};
use lettre::{AsyncTransport, Tokio1Executor};

use super::{Email, MailTransport, compose};
use crate::channel::{Delivery, SendError};
use crate::config::SmtpSettings;

/// How the connection is secured.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Security {
    None,
    StartTls,
    Tls,
}

/// One SMTP server.
pub struct SmtpMail {
    name: String,
    label: String,
    inner: AsyncSmtpTransport<Tokio1Executor>,
}

impl SmtpMail {
    /// A transport for `settings` (no connection is made until the first send).
    pub fn new(name: &str, settings: &SmtpSettings) -> Result<Self, SendError> {
        crate::tls::install_crypto_provider();
        let security = match (settings.use_ssl, settings.use_tls) {
            (true, _) => Security::Tls,
            (false, true) => Security::StartTls,
            (false, false) => Security::None,
        };
        let tls = |host: &str| -> Result<TlsParameters, SendError> {
            let mut builder = TlsParameters::builder(host.to_owned());
            if let Some(pem) = &settings.ca_pem {
                let cert = Certificate::from_pem(pem).map_err(|e| {
                    SendError::permanent(format!("invalid email.smtp.ca_file: {e}"))
                })?;
                builder = builder.add_root_certificate(cert);
            }
            builder
                .build_rustls()
                .map_err(|e| SendError::permanent(format!("TLS setup for {host} failed: {e}")))
        };
        let mut builder =
            AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(settings.host.clone())
                .port(settings.port)
                .timeout(Some(settings.timeout))
                .pool_config(PoolConfig::new().max_size(settings.pool_size));
        builder = match security {
            Security::None => builder.tls(Tls::None),
            Security::StartTls => builder.tls(Tls::Required(tls(&settings.host)?)),
            Security::Tls => builder.tls(Tls::Wrapper(tls(&settings.host)?)),
        };
        if !settings.username.is_empty() {
            builder = builder.credentials(Credentials::new(
                settings.username.clone(),
                settings.password.expose().to_owned(),
            ));
        }
        Ok(Self {
            name: name.to_owned(),
            label: format!("{}:{}", settings.host, settings.port),
            inner: builder.build(),
        })
    }
}

#[async_trait]
impl MailTransport for SmtpMail {
    fn name(&self) -> &str {
        &self.name
    }

    async fn deliver(&self, email: &Email) -> Result<Delivery, SendError> {
        let message = compose::to_mime(email)?;
        match self.inner.send(message).await {
            Ok(_) => Ok(Delivery::id(Some(email.message_id.clone()))),
            Err(e) => Err(classify(&self.label, &e)),
        }
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
