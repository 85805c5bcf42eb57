//! `outpost pause` and `outpost resume`: hold back a kind, a provider or a
//! tenant on every daemon, and let it go again.

use anyhow::{Result, bail};
use clap::Args;
use outpost::config::Config;
use outpost::db;
use outpost::db::Pg;
use outpost::pause::{self, Scope};

/// What to pause or resume: a kind, or one of --provider and --tenant.
#[derive(Args)]
pub(crate) struct PauseTarget {
    /// A kind: email, sms, voice, push or chat.
    kind: Option<outpost::message::Kind>,
    /// A provider (twilio, sendgrid, smtp, smtp_db, airship, inapp, …).
    #[arg(long, conflicts_with = "kind")]
    provider: Option<String>,
    /// A tenant.
    #[arg(long, conflicts_with_all = ["kind", "provider"])]
    tenant: Option<String>,
}

impl PauseTarget {
    fn scope(&self) -> Result<(Scope, String)> {
        match (&self.kind, &self.provider, &self.tenant) {
            (Some(kind), None, None) => Ok((Scope::Kind, kind.to_string())),
            (None, Some(provider), None) => Ok((Scope::Provider, provider.clone())),
            (None, None, Some(tenant)) => Ok((Scope::Tenant, tenant.clone())),
            _ => bail!("name a kind, or --provider NAME, or --tenant NAME"),
        }
    }
}

/// What the command names, a connection, and the audit log's actor for the
/// command line: the database role.
async fn prepare(
    config: &Config,
    target: &PauseTarget,
) -> Result<(Scope, String, tokio_postgres::Client, String)> {
    let (scope, name) = target.scope()?;
    let client = db::connect(&config.database_url).await?;
    let role: String = client
        .pg_query_one("SELECT current_user::text", &[])
        .await?
        .get(0);
    Ok((scope, name, client, format!("role {role}")))
}

pub(crate) async fn pause(
    config: &Config,
    target: PauseTarget,
    reason: Option<String>,
) -> Result<()> {
    let (scope, name, client, actor) = prepare(config, &target).await?;
    let actor = pause::Actor {
        name: &actor,
        address: None,
    };
    let was_running = pause::pause(&client, scope, &name, actor, reason.as_deref()).await?;
    eprintln!(
        "{scope} {name} {}: its messages wait, queued, until `outpost resume`",
        if was_running {
            "paused"
        } else {
            "was already paused (reason updated)"
        }
    );
    Ok(())
}

pub(crate) async fn resume(config: &Config, target: PauseTarget) -> Result<()> {
    let (scope, name, client, actor) = prepare(config, &target).await?;
    let actor = pause::Actor {
        name: &actor,
        address: None,
    };
    if pause::resume(&client, scope, &name, actor).await? {
        eprintln!("{scope} {name} resumed");
    } else {
        eprintln!("{scope} {name} was not paused");
    }
    Ok(())
}
