//! `outpost tenant grant|revoke|list`: which login role acts for which tenant.

use anyhow::{Context, Result};
use clap::Subcommand;
use outpost::config::Config;
use outpost::db::Pg;
use outpost::db::{self, statements};

#[derive(Subcommand)]
pub(crate) enum TenantCommand {
    /// Map an existing login role to a tenant: it then sees and acts on only
    /// that tenant's messages, recipients, chat, inbound e-mail and events.
    Grant { role: String, tenant: String },
    /// Take a role's tenant away: it sees every tenant again.
    Revoke { role: String },
    /// Every role with a tenant.
    List,
}

pub(crate) async fn run(config: &Config, command: TenantCommand) -> Result<()> {
    let client = db::connect(&config.database_url).await?;
    match command {
        TenantCommand::Grant { role, tenant } => {
            client
                .pg_execute(statements::TENANT_GRANT, &[&role, &tenant])
                .await
                .with_context(|| format!("cannot map role {role} to tenant {tenant}"))?;
            eprintln!("role {role} now acts for tenant {tenant} only");
        }
        TenantCommand::Revoke { role } => {
            let had: bool = client
                .pg_query_one(statements::TENANT_REVOKE, &[&role])
                .await
                .with_context(|| format!("cannot take role {role}'s tenant away"))?
                .get(0);
            if had {
                eprintln!("role {role} has no tenant any more: it sees every tenant");
            } else {
                eprintln!("role {role} had no tenant");
            }
        }
        TenantCommand::List => {
            for row in client.pg_query(statements::TENANT_LIST, &[]).await? {
                let (role, tenant): (String, String) = (row.get(0), row.get(1));
                println!("{tenant}\t{role}");
            }
        }
    }
    Ok(())
}
