//! `outpost console user add|remove`: console users, passwords from a
//! prompt (never echoed) or from stdin.

use std::io::{BufRead, IsTerminal};

use anyhow::{Context, Result, bail};
use clap::Subcommand;
use outpost::config::Config;
use outpost::{console, db};

#[derive(Subcommand)]
pub(crate) enum ConsoleCommand {
    /// Console users.
    User {
        #[command(subcommand)]
        command: UserCommand,
    },
}

#[derive(Subcommand)]
pub(crate) enum UserCommand {
    /// Add a user, or replace an existing user's role and password (ending
    /// their sessions). The password is asked for, or read from stdin.
    Add {
        name: String,
        /// admin (may change things) or viewer (may only look).
        #[arg(long, value_parser = ["admin", "viewer"])]
        role: String,
        /// Scope the user to one tenant: they see and act on only its
        /// messages, and none of the pages that configure every tenant.
        #[arg(long)]
        tenant: Option<String>,
    },
    /// Remove a user; their sessions end at once.
    Remove { name: String },
}

fn read_password() -> Result<String> {
    if std::io::stdin().is_terminal() {
        let first = rpassword::prompt_password("Password: ")?;
        let second = rpassword::prompt_password("Again: ")?;
        if first != second {
            bail!("the two passwords differ");
        }
        return Ok(first);
    }
    let mut line = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut line)
        .context("cannot read the password from stdin")?;
    Ok(line.trim_end_matches(['\r', '\n']).to_owned())
}

pub(crate) async fn run(config: &Config, command: ConsoleCommand) -> Result<()> {
    let ConsoleCommand::User { command } = command;
    // The console's users live in the first database the daemon serves
    // (`database.urls`, or `database.url` alone).
    let home = config
        .databases
        .first()
        .map_or(config.database_url.as_str(), |d| d.url.as_str());
    let client = db::connect(home).await?;
    match command {
        UserCommand::Add { name, role, tenant } => {
            let password = read_password()?;
            let created =
                console::users::add(&client, &name, role.parse()?, &password, tenant.as_deref())
                    .await?;
            eprintln!(
                "console user {name} {} ({role})",
                if created {
                    "added"
                } else {
                    "updated; their sessions ended"
                }
            );
        }
        UserCommand::Remove { name } => {
            console::users::remove(&client, &name).await?;
            eprintln!("console user {name} removed; their sessions ended");
        }
    }
    Ok(())
}
