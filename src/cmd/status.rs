//! `outpost status` and `outpost stats`: one message with its attempts, a
//! user's messages, counts by kind and status, delivery statistics.

use anyhow::{Context, Result, bail};
use outpost::config::Config;
use outpost::message::MessageId;
use outpost::{db, status};

/// An RFC 3339 time, or a duration ago ("7d", "12h").
pub(crate) fn parse_since(text: &str) -> Result<chrono::DateTime<chrono::Utc>> {
    if let Ok(at) = chrono::DateTime::parse_from_rfc3339(text) {
        return Ok(at.with_timezone(&chrono::Utc));
    }
    let ago = humantime::parse_duration(text).with_context(|| {
        format!("--since {text:?} is neither an RFC 3339 time nor a duration like 7d")
    })?;
    Ok(chrono::Utc::now() - chrono::Duration::from_std(ago).context("--since is too long ago")?)
}

pub(crate) async fn show_status(
    config: &Config,
    id: Option<i64>,
    user: Option<String>,
    since: &str,
) -> Result<()> {
    let client = db::connect(&config.database_url).await?;
    if let Some(user) = user {
        print!(
            "{}",
            status::user_report(&client, &user, parse_since(since)?).await?
        );
        return Ok(());
    }
    match id {
        Some(id) => match status::message_report(&client, MessageId(id)).await? {
            Some(report) => print!("{report}"),
            None => bail!("no message with id {id}"),
        },
        None => print!("{}", status::summary(&client, &config.limits).await?),
    }
    Ok(())
}

/// `outpost stats --since …`.
pub(crate) async fn stats(config: &Config, since: &str) -> Result<()> {
    let client = db::connect(&config.database_url).await?;
    print!("{}", status::stats(&client, parse_since(since)?).await?);
    Ok(())
}
