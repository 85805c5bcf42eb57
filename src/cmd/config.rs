//! `outpost config check`: the effective configuration, secrets redacted, and whether it is valid.

use anyhow::Result;
use outpost::config::{Config, RawConfig, Sources};

pub(crate) fn check(sources: &Sources<'_>) -> Result<()> {
    let raw = RawConfig::load(sources)?;
    let printed = raw.to_redacted_toml();
    let config = Config::validate(raw)?;
    print!("{printed}");
    for warning in config.warnings() {
        eprintln!("warning: {warning}");
    }
    eprintln!("configuration is valid");
    Ok(())
}
