//! `outpost migrate`: pending migrations applied, each in the lock that
//! serialises them.

use anyhow::Result;
use outpost::db;

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
