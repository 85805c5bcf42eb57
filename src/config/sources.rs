//! Where configuration values come from: the compiled-in defaults, the
//! `--config` file, `OUTPOST__…` variables, the original system's names and
//! `DATABASE_URL`, layered in that order.

use std::path::Path;

use super::{Config, ConfigError, DEFAULTS, RawConfig, legacy};

/// Where configuration values come from, besides the defaults.
#[derive(Debug, Clone, Default)]
pub struct Sources<'a> {
    /// The `--config` file.
    pub file: Option<&'a Path>,
    /// Environment variables (normally `std::env::vars()`), so that tests can
    /// pass their own.
    pub env: Vec<(String, String)>,
}

impl Sources<'_> {
    /// The file (if any) plus the process environment.
    pub fn from_process(file: Option<&Path>) -> Sources<'_> {
        Sources {
            file,
            env: std::env::vars().collect(),
        }
    }
}

/// `[database] urls` from the environment.
const URLS_VARIABLE: &str = "OUTPOST__DATABASE__URLS";

impl RawConfig {
    /// Layers defaults, file, `OUTPOST__…` variables and `DATABASE_URL`.
    pub fn load(sources: &Sources<'_>) -> Result<Self, ConfigError> {
        let mut builder = config::Config::builder()
            .add_source(config::File::from_str(DEFAULTS, config::FileFormat::Toml));
        if let Some(file) = sources.file {
            if !file.is_file() {
                return Err(ConfigError::invalid(
                    "--config",
                    format!("{} does not exist or is not a file", file.display()),
                ));
            }
            builder = builder.add_source(
                config::File::from(file)
                    .format(config::FileFormat::Toml)
                    .required(true),
            );
        }
        // The original system's names first, so OUTPOST__ variables win.
        // Values stay strings: a string key gets exactly what was written
        // (`+1…`, `007`, `1e3`), and serde parses the numeric, boolean and
        // duration keys from their text when it deserializes them.
        let layers = [
            legacy::translate(&sources.env),
            sources
                .env
                .iter()
                .filter(|(k, _)| k.starts_with("OUTPOST__"))
                .cloned()
                .collect(),
        ];
        for layer in layers {
            builder = builder.add_source(
                config::Environment::with_prefix("OUTPOST")
                    .prefix_separator("__")
                    .separator("__")
                    .source(Some(
                        layer
                            .into_iter()
                            .filter(|(k, _)| k != URLS_VARIABLE)
                            .collect(),
                    )),
            );
        }
        // A list from one variable: the URLs separated by white space (a
        // multi-host URL holds commas).
        if let Some((_, urls)) = sources.env.iter().find(|(k, _)| k == URLS_VARIABLE) {
            let urls: Vec<String> = urls.split_whitespace().map(str::to_owned).collect();
            builder = builder.set_override("database.urls", urls)?;
        }
        if let Some((_, url)) = sources.env.iter().find(|(k, _)| k == "DATABASE_URL") {
            builder = builder.set_override("database.url", url.as_str())?;
        }
        Ok(builder.build()?.try_deserialize()?)
    }

    /// The effective configuration as TOML, secrets redacted.
    pub fn to_redacted_toml(&self) -> String {
        toml::to_string_pretty(self).unwrap_or_else(|e| format!("# cannot print: {e}\n"))
    }
}

impl Config {
    /// Loads and validates in one step.
    pub fn load(sources: &Sources<'_>) -> Result<Self, ConfigError> {
        Config::validate(RawConfig::load(sources)?)
    }
}
