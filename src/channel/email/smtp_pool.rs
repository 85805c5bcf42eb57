//! Pooled SMTP connections on sockets with `TCP_NODELAY` set: lettre's own
//! pool opens its sockets with Nagle's algorithm on, so the end-of-data
//! marker (a small write after the body) waits for the server's delayed ACK,
//! tens of milliseconds per message. Here the socket is ours and lettre speaks
//! SMTP over it (EHLO, STARTTLS, AUTH, MAIL/RCPT/DATA).

use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use deadpool::managed::{self, Metrics, RecycleError, RecycleResult};
use lettre::transport::smtp::authentication::{Credentials, Mechanism};
use lettre::transport::smtp::client::{AsyncSmtpConnection, AsyncTokioStream, TlsParameters};
use lettre::transport::smtp::extension::ClientId;
use rustls::pki_types::ServerName;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;

/// A connection idle longer than this is checked with NOOP before it is
/// reused, unless configured otherwise (`[email.smtp] idle_check`).
pub const DEFAULT_IDLE_CHECK: Duration = Duration::from_secs(5);

/// How a connection is secured once the TCP socket is open.
pub enum Security {
    /// Plain text.
    None,
    /// STARTTLS, required: a server that does not offer it is an error.
    StartTls(TlsParameters),
    /// TLS from the first byte (SMTPS).
    Implicit(Arc<rustls::ClientConfig>),
}

/// Why a connection could not be made or used.
#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    #[error("{0}")]
    Io(#[from] io::Error),
    #[error(transparent)]
    Smtp(#[from] lettre::transport::smtp::Error),
    #[error("STARTTLS is not offered by this server")]
    NoStartTls,
}

/// Opens, secures and authenticates connections to one SMTP server.
pub struct Connector {
    pub host: String,
    pub port: u16,
    pub timeout: Duration,
    pub security: Security,
    pub credentials: Option<Credentials>,
    pub hello: ClientId,
    /// A connection idle longer than this is checked before reuse.
    pub idle_check: Duration,
}

/// A pool of ready connections to one server.
pub type Pool = managed::Pool<Connector>;

impl Connector {
    /// A pool of at most `size` connections.
    pub fn into_pool(self, size: usize) -> Result<Pool, managed::BuildError> {
        let timeout = Some(self.timeout);
        Pool::builder(self)
            .max_size(size.max(1))
            .wait_timeout(timeout)
            .create_timeout(timeout)
            .recycle_timeout(timeout)
            .runtime(deadpool::Runtime::Tokio1)
            .build()
    }

    async fn connect(&self) -> Result<AsyncSmtpConnection, ConnectError> {
        let tcp = connect_tcp(&self.host, self.port).await?;
        let mut conn = match &self.security {
            Security::Implicit(config) => {
                let name = ServerName::try_from(self.host.clone())
                    .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
                let tls = TlsConnector::from(config.clone())
                    .connect(name, tcp)
                    .await?;
                AsyncSmtpConnection::connect_with_transport(Box::new(Tls(tls)), &self.hello).await?
            }
            Security::None | Security::StartTls(_) => {
                AsyncSmtpConnection::connect_with_transport(Box::new(tcp), &self.hello).await?
            }
        };
        if let Security::StartTls(params) = &self.security {
            if !conn.can_starttls() {
                conn.abort().await;
                return Err(ConnectError::NoStartTls);
            }
            conn.starttls(params.clone(), &self.hello).await?;
        }
        if let Some(credentials) = &self.credentials {
            conn.auth(&[Mechanism::Plain, Mechanism::Login], credentials)
                .await?;
        }
        Ok(conn)
    }
}

impl managed::Manager for Connector {
    type Type = AsyncSmtpConnection;
    type Error = ConnectError;

    async fn create(&self) -> Result<AsyncSmtpConnection, ConnectError> {
        tokio::time::timeout(self.timeout, self.connect())
            .await
            .map_err(|_| io::Error::new(io::ErrorKind::TimedOut, "connection timed out"))?
    }

    async fn recycle(
        &self,
        conn: &mut AsyncSmtpConnection,
        metrics: &Metrics,
    ) -> RecycleResult<ConnectError> {
        if conn.has_broken() {
            return Err(RecycleError::message("the connection broke"));
        }
        if metrics.last_used() > self.idle_check && !conn.test_connected().await {
            return Err(RecycleError::message(
                "the server closed the idle connection",
            ));
        }
        Ok(())
    }
}

/// A TCP connection to `host:port` (every resolved address in turn) with
/// `TCP_NODELAY` set.
pub async fn connect_tcp(host: &str, port: u16) -> io::Result<TcpStream> {
    let mut last = None;
    for addr in tokio::net::lookup_host((host, port)).await? {
        match TcpStream::connect(addr).await {
            Ok(stream) => {
                stream.set_nodelay(true)?;
                return Ok(stream);
            }
            Err(e) => last = Some(e),
        }
    }
    Err(last.unwrap_or_else(|| {
        io::Error::new(
            io::ErrorKind::NotFound,
            format!("{host} resolves to no address"),
        )
    }))
}

/// A TLS stream lettre can speak SMTP over.
#[derive(Debug)]
struct Tls(TlsStream<TcpStream>);

impl AsyncTokioStream for Tls {
    fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.0.get_ref().0.peer_addr()
    }
}

impl AsyncRead for Tls {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_read(cx, buf)
    }
}

impl AsyncWrite for Tls {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.0).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn sockets_are_opened_with_nodelay() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let stream = connect_tcp("127.0.0.1", port).await.unwrap();
        assert!(stream.nodelay().unwrap());
    }

    #[tokio::test]
    async fn a_closed_port_is_an_error() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        drop(listener);
        assert!(connect_tcp("127.0.0.1", port).await.is_err());
    }
}
