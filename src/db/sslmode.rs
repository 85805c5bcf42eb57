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
        // Key/value form: only the sslmode and sslrootcert pairs change;
        // every other byte (quoted values with their spaces and escapes
        // included) stays as written.
        let mut out = String::with_capacity(url.len());
        let mut last = 0;
        for pair in key_value_pairs(url) {
            if let Some(replacement) = keep(&pair.key, &pair.value)
                .filter(|_| pair.key == "sslmode" || pair.key == "sslrootcert")
            {
                out.push_str(&url[last..pair.start]);
                out.push_str(&replacement);
                last = pair.end;
            } else if pair.key == "sslrootcert" {
                out.push_str(&url[last..pair.start]);
                last = pair.end;
            }
        }
        out.push_str(&url[last..]);
        out
    };
    (rewritten, mode, root)
}

/// One `key = value` pair of a key/value connection string: where it stands
/// and its value unquoted (libpq's rules: spaces around `=`, single quotes,
/// backslash escapes).
struct Pair {
    start: usize,
    end: usize,
    key: String,
    value: String,
}

fn key_value_pairs(text: &str) -> Vec<Pair> {
    let bytes = text.as_bytes();
    let mut pairs = Vec::new();
    let mut i = 0;
    let skip_spaces = |mut i: usize| {
        while i < bytes.len() && bytes[i].is_ascii_whitespace() {
            i += 1;
        }
        i
    };
    loop {
        i = skip_spaces(i);
        if i >= bytes.len() {
            return pairs;
        }
        let start = i;
        while i < bytes.len() && bytes[i] != b'=' && !bytes[i].is_ascii_whitespace() {
            i += 1;
        }
        let key = text[start..i].to_owned();
        i = skip_spaces(i);
        if i >= bytes.len() || bytes[i] != b'=' {
            // Not a pair (the parser will say so); keep scanning.
            continue;
        }
        i = skip_spaces(i + 1);
        let mut value = String::new();
        if i < bytes.len() && bytes[i] == b'\'' {
            i += 1;
            while i < bytes.len() && bytes[i] != b'\'' {
                if bytes[i] == b'\\' && i + 1 < bytes.len() {
                    i += 1;
                }
                let ch = text[i..].chars().next().unwrap_or_default();
                value.push(ch);
                i += ch.len_utf8();
            }
            i = (i + 1).min(bytes.len());
        } else {
            let from = i;
            while i < bytes.len() && !bytes[i].is_ascii_whitespace() {
                i += 1;
            }
            value.push_str(&text[from..i]);
        }
        pairs.push(Pair {
            start,
            end: i,
            key,
            value,
        });
    }
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

    #[test]
    fn key_value_strings_keep_every_other_byte_as_written() {
        let written = "host=db  password='two  spaces \\' and'  sslmode = verify-ca sslrootcert='/etc/my ca.pem' user=u";
        let (rewritten, mode, root) = split_params(written);
        assert_eq!(
            rewritten,
            "host=db  password='two  spaces \\' and'  sslmode=require  user=u"
        );
        assert_eq!(mode.as_deref(), Some("verify-ca"));
        assert_eq!(root.as_deref(), Some("/etc/my ca.pem"));
        let config: tokio_postgres::Config = rewritten.parse().unwrap();
        assert_eq!(config.get_password(), Some(&b"two  spaces ' and"[..]));
    }
}
