//! `outpost dev`: a throwaway local PostgreSQL (its port kept between runs),
//! console backends, the operator console with a one-time login.

use outpost::db::Pg;
use std::path::PathBuf;

use anyhow::Result;
use outpost::cluster::{self, Cluster};
use outpost::config::{Config, RawConfig, Sources};
use outpost::db;

pub(crate) async fn dev(mut sources: Sources<'_>, dir: PathBuf) -> Result<()> {
    let external = sources.env.iter().any(|(k, _)| k == "DATABASE_URL");
    let cluster = if external {
        None
    } else {
        let dir2 = dir.clone();
        let cluster =
            tokio::task::spawn_blocking(move || Cluster::start(&dir2, cluster::Options::default()))
                .await??;
        let admin = db::connect(&cluster.url("postgres")).await?;
        let exists = admin
            .pg_query_opt("SELECT 1 FROM pg_database WHERE datname = 'outpost'", &[])
            .await?
            .is_some();
        if !exists {
            admin.batch_execute("CREATE DATABASE outpost").await?;
        }
        sources
            .env
            .push(("DATABASE_URL".into(), cluster.url("outpost")));
        Some(cluster)
    };
    let mut raw = RawConfig::load(&sources)?;
    for backend in [
        &mut raw.email.backend,
        &mut raw.sms.backend,
        &mut raw.voice.backend,
        &mut raw.push.backend,
        &mut raw.chat.backend,
    ] {
        *backend = "console".into();
    }
    raw.console.enabled = true;
    let config = Config::validate(raw)?;
    crate::cmd::logging::init(&config);
    crate::cmd::migrate::migrate_db(&config.database_url).await?;

    eprintln!();
    eprintln!(
        "Outpost is running on {} with console backends.",
        outpost::config::redact_url(&config.database_url)
    );
    eprintln!("Enqueue a message from another terminal:");
    eprintln!();
    eprintln!(
        "  psql '{}' -c \"SELECT outpost.send_simple_mail('Hello', 'It works.', to_address => 'you@example.com')\"",
        config.database_url
    );
    eprintln!();
    // `outpost` is not on PATH after `cargo run`: print a command that works
    // as pasted. An external DATABASE_URL (which may hold a password) is
    // already in the user's environment, so it is not repeated.
    if external {
        eprintln!("Then look at it (DATABASE_URL as set in this shell):");
        eprintln!();
        eprintln!("  cargo run -- status <id>");
    } else {
        eprintln!("Then look at it:");
        eprintln!();
        eprintln!(
            "  DATABASE_URL='{}' cargo run -- status <id>",
            config.database_url
        );
    }
    eprintln!();
    eprintln!(
        "Ctrl-C stops Outpost{}.",
        if cluster.as_ref().is_some_and(|c| c.started_here) {
            " and the database"
        } else {
            ""
        }
    );
    let password = hex::encode(rand::random::<[u8; 12]>());
    let admin = db::connect(&config.database_url).await?;
    outpost::console::users::add(
        &admin,
        "dev",
        outpost::console::users::Role::Admin,
        &password,
        None,
    )
    .await?;
    eprintln!(
        "The operator console: {}  (user dev, password {password}; a new one every run)",
        outpost::console::url_for(config.console.listen)
    );
    eprintln!();

    let result = match crate::cmd::run::reloaded_on_sighup(&config) {
        Ok(daemon) => daemon
            .run_until_stopped(crate::cmd::run::shutdown_on_signals())
            .await
            .map_err(anyhow::Error::from),
        Err(e) => Err(e),
    };
    if let Some(cluster) = cluster.filter(|c| c.started_here)
        && let Err(e) = cluster.stop()
    {
        eprintln!("could not stop the dev database: {e}");
    }
    result?;
    Ok(())
}
