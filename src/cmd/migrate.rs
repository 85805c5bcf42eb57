//! `outpost migrate`: pending migrations applied, each in the lock that
//! serialises them.

use anyhow::Result;
use outpost::db;

/// Migrates every database the daemon serves (`database.urls`, or `url`),
/// one after the other, naming each when there are several.
pub(crate) async fn migrate_all(config: &outpost::config::Config) -> Result<()> {
    let several = config.databases.len() > 1;
    for database in &config.databases {
        let said = migrated(&database.url)
            .await
            .map_err(|e| e.context(format!("database {}", database.name)))?;
        match several {
            true => eprintln!("{}: {said}", database.name),
            false => eprintln!("{said}"),
        }
    }
    Ok(())
}

pub(crate) async fn migrate_db(url: &str) -> Result<()> {
    eprintln!("{}", migrated(url).await?);
    Ok(())
}

/// Applies what is pending at `url`; what was done, in a sentence.
async fn migrated(url: &str) -> Result<String> {
    let mut client = db::connect(url).await?;
    let applied = db::migrate::migrate(&mut client).await?;
    Ok(if applied.is_empty() {
        "schema is current".to_owned()
    } else {
        format!("applied migrations: {}", applied.join(", "))
    })
}
