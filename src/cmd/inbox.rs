//! `outpost inbox rotate-key`: a new key signs the inbox tokens minted from
//! now on; the old keys keep verifying the tokens they signed until those
//! expire (at most 7 days; older keys are deleted then).

use anyhow::{Context, Result};
use clap::Subcommand;
use outpost::config::Config;
use outpost::db;
use outpost::inbox::queries;

#[derive(Subcommand)]
pub(crate) enum InboxCommand {
    /// Add a new signing key for inbox tokens (run as the schema's owner).
    RotateKey,
}

pub(crate) async fn run(config: &Config, command: InboxCommand) -> Result<()> {
    let client = db::connect(&config.database_url).await?;
    match command {
        InboxCommand::RotateKey => {
            let version = queries::rotate_key(&client)
                .await
                .context("cannot rotate the inbox key (run it as the schema's owner)")?;
            eprintln!(
                "inbox key version {version} signs new tokens; tokens signed before keep \
                 working until they expire"
            );
        }
    }
    Ok(())
}
