//! TLS to PostgreSQL with rustls, honouring `sslmode` in the connection URL
//! as libpq does: `disable`; `prefer` (the default) and `require` encrypt
//! without checking the certificate; `verify-ca` and `verify-full` check it
//! against `sslrootcert` (a PEM file) or the system's roots, with the host name.

use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, SignatureScheme};
use tokio_postgres_rustls::MakeRustlsConnect;

use super::DbError;

/// The connection settings tokio-postgres understands, and the TLS connector.
pub struct Prepared {
    pub url: String,
    pub connector: MakeRustlsConnect,
}

/// Rewrites `url` for tokio-postgres (which knows only disable, prefer and
/// require, and no `sslrootcert`) and builds the matching connector.
pub fn prepare(url: &str) -> Result<Prepared, DbError> {
    crate::tls::install_crypto_provider();
    let (url, mode, root) = split_params(url);
    let verify = matches!(mode.as_deref(), Some("verify-ca" | "verify-full"));
    let builder = rustls::ClientConfig::builder();
    let config = if verify {
        let mut roots = rustls::RootCertStore::empty();
        match &root {
            Some(path) => {
                let bad = |e: super::RootCertError| DbError::RootCert {
                    path: path.clone(),
                    source: e,
                };
                let certs = CertificateDer::pem_file_iter(path).map_err(|e| bad(e.into()))?;
                for cert in certs {
                    let cert = cert.map_err(|e| bad(e.into()))?;
                    roots.add(cert).map_err(|e| bad(e.into()))?;
                }
            }
            None => {
                for cert in rustls_native_certs::load_native_certs().certs {
                    let _ = roots.add(cert);
                }
            }
        }
        builder.with_root_certificates(roots).with_no_client_auth()
    } else {
        builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(EncryptOnly::new()))
            .with_no_client_auth()
    };
    Ok(Prepared {
        url,
        connector: MakeRustlsConnect::new(config),
    })
}

/// Removes `sslrootcert` and maps `verify-*` to `require`, in URL or
/// key=value form; returns the new string, the sslmode and the root file.
pub(crate) fn split_params(url: &str) -> (String, Option<String>, Option<String>) {
    let mut mode = None;
    let mut root = None;
    let mut keep = |key: &str, value: &str| -> Option<String> {
        match key {
            "sslrootcert" => {
                root = Some(value.to_owned());
                None
            }
            "sslmode" => {
                mode = Some(value.to_owned());
                let mapped = if value.starts_with("verify-") {
                    "require"
                } else {
                    value
                };
                Some(format!("sslmode={mapped}"))
            }
            _ => Some(format!("{key}={value}")),
        }
    };
    let rewritten = if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        match url.split_once('?') {
            None => url.to_owned(),
            Some((base, query)) => {
                let kept: Vec<String> = query
                    .split('&')
                    .filter(|p| !p.is_empty())
                    .filter_map(|p| {
                        let (k, v) = p.split_once('=').unwrap_or((p, ""));
                        keep(k, v)
                    })
                    .collect();
                if kept.is_empty() {
                    base.to_owned()
                } else {
                    format!("{base}?{}", kept.join("&"))
                }
            }
        }
    } else {
        url.split_whitespace()
            .filter_map(|p| match p.split_once('=') {
                Some((k, v)) => keep(k, v),
                None => Some(p.to_owned()),
            })
            .collect::<Vec<_>>()
            .join(" ")
    };
    (rewritten, mode, root)
}

/// `sslmode=prefer`/`require`: encrypted, but any certificate is accepted,
/// as libpq does; signatures are still checked so the handshake is sound.
#[derive(Debug)]
struct EncryptOnly {
    algorithms: rustls::crypto::WebPkiSupportedAlgorithms,
}

impl EncryptOnly {
    fn new() -> Self {
        Self {
            algorithms: rustls::crypto::ring::default_provider().signature_verification_algorithms,
        }
    }
}

impl ServerCertVerifier for EncryptOnly {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::split_params;

    #[test]
    fn verify_modes_are_mapped_and_rootcert_removed() {
        let (url, mode, root) = split_params(
            "postgres://u@db/app?sslmode=verify-full&sslrootcert=/etc/ca.pem&application_name=x",
        );
        assert_eq!(
            url,
            "postgres://u@db/app?sslmode=require&application_name=x"
        );
        assert_eq!(mode.as_deref(), Some("verify-full"));
        assert_eq!(root.as_deref(), Some("/etc/ca.pem"));
        let (url, mode, _) = split_params("host=db user=u sslmode=disable");
        assert_eq!(url, "host=db user=u sslmode=disable");
        assert_eq!(mode.as_deref(), Some("disable"));
        assert_eq!(split_params("postgres://u@db/app").0, "postgres://u@db/app");
    }
}
