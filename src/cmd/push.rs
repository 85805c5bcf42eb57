//! `outpost push test`: one test push to a single device, Airship's answer printed.

use anyhow::{Context, Result, bail};
use outpost::config::Config;
use outpost::db;

pub(crate) async fn push_test(
    config: &Config,
    app: Option<&str>,
    channel: &str,
    device_type: Option<String>,
    message: &str,
) -> Result<()> {
    use outpost::channel::airship::{self, Audience, Notification};
    let app = match app {
        Some(name) => airship::find_app(&db::pool(&config.database_url, 1)?, name).await?,
        None => config.push_app.clone().context(
            "no [push] app_key configured; pass --app NAME for an app of outpost.push_apps",
        )?,
    };
    let client = airship::http_client(config.dispatch.send_timeout)?;
    let audience = Audience::Channel {
        id: channel.to_owned(),
        device_type,
    };
    let notification = Notification {
        alert: message.to_owned(),
        ..Notification::default()
    };
    let payload = airship::payload(&audience, &notification, &config.push_device_types);
    match airship::push(&client, &app, &payload).await {
        Ok(delivery) => {
            println!(
                "sent to channel {channel} with app {}: push id {}",
                app.name,
                delivery.provider_message_id.as_deref().unwrap_or("-")
            );
            Ok(())
        }
        Err(e) => bail!(
            "push to channel {channel} with app {} failed: {e}",
            app.name
        ),
    }
}
