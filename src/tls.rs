//! The process's one TLS crypto provider (rustls + ring), installed before
//! any client (lettre, reqwest) is built.

/// Installs ring as rustls's default provider; later calls are no-ops.
pub fn install_crypto_provider() {
    // Err means a provider is already installed, which is what we want.
    let _ = rustls::crypto::ring::default_provider().install_default();
}
