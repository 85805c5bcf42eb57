//! Logs to stderr, as text (coloured only on a terminal) or JSON.

use outpost::config::{Config, LogFormat};

pub(crate) fn init(config: &Config) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(&config.log.level));
    // Colour only for a person at a terminal: a file or the journal gets plain text.
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_writer(std::io::stderr);
    let _ = if config.log.format == LogFormat::Json {
        builder.json().try_init()
    } else {
        builder.try_init()
    };
}
