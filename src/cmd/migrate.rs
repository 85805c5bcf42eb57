//! `outpost migrate`: pending migrations applied, each in the lock that
//! serialises them.

use anyhow::Result;
use outpost::db;

/// Migrates every database the daemon serves (`database.urls`, or `url`),
/// one after the other, naming each when there are several.
pub(crate) async fn migrate_all(config: &outpost::config::Config) -> Result<()> {
    let several = config.databases.len() > 1;
    for database in &config.databases {
        if several {
            eprint!("{}: ", database.name);
        }
        migrate_db(&database.url)
            .await
            .map_err(|e| e.context(format!("database {}", database.name)))?;
    }
    Ok(())
}

pub(crate) async fn migrate_db(url: &str) -> Result<()> {
    let mut client = db::connect(url).await?;
    let applied = db::migrate::migrate(&mut client).await?;
    if applied.is_empty() {
        eprintln!("schema is current");
    } else {
        eprintln!("applied migrations: {}", applied.join(", "));
    }
    Ok(())
}
