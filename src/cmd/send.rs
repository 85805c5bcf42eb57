//! `outpost send`: one message enqueued through `outpost.enqueue`, its id printed.

use anyhow::{Context, Result, bail};
use outpost::config::Config;
use outpost::db;
use outpost::enqueue::{NewMessage, enqueue};
use outpost::message::Kind;

#[derive(clap::Args)]
pub(crate) struct SendArgs {
    /// email, sms, voice, push or chat.
    #[arg(long)]
    kind: Kind,
    /// Recipient by application user id (looked up in the recipients relation).
    #[arg(long, required_unless_present = "to")]
    to_user: Option<String>,
    /// Recipient by address: e-mail, E.164 phone number, push channel.
    #[arg(long)]
    to: Option<String>,
    #[arg(long)]
    subject: Option<String>,
    #[arg(long)]
    body: Option<String>,
    #[arg(long)]
    html: Option<String>,
    #[arg(long)]
    template: Option<String>,
    /// Template context as a JSON object.
    #[arg(long, default_value = "{}")]
    context: String,
    #[arg(long)]
    locale: Option<String>,
    /// Kind-specific options as a JSON object.
    #[arg(long, default_value = "{}")]
    options: String,
    #[arg(long)]
    provider: Option<String>,
    #[arg(long)]
    tenant: Option<String>,
    #[arg(long, default_value_t = 0)]
    priority: i32,
    /// Send no earlier than this (RFC 3339).
    #[arg(long)]
    run_at: Option<chrono::DateTime<chrono::Utc>>,
    /// Give up at this time (RFC 3339).
    #[arg(long)]
    expires_at: Option<chrono::DateTime<chrono::Utc>>,
    #[arg(long)]
    idempotency_key: Option<String>,
    #[arg(long)]
    max_attempts: Option<i32>,
    /// The message's category (subject to the recipient's preferences and
    /// one-click unsubscribe); without one it is transactional.
    #[arg(long)]
    category: Option<String>,
    /// Combine with other messages to the same recipient and kind that carry
    /// this key (window: options.digest_window).
    #[arg(long)]
    digest_key: Option<String>,
}

pub(crate) async fn send(config: &Config, a: Box<SendArgs>) -> Result<()> {
    let parse = |name: &str, text: &str| -> Result<serde_json::Value> {
        let value: serde_json::Value =
            serde_json::from_str(text).with_context(|| format!("--{name} is not valid JSON"))?;
        if !value.is_object() {
            bail!("--{name} must be a JSON object");
        }
        Ok(value)
    };
    let message = NewMessage {
        to_user: a.to_user,
        to_address: a.to,
        template: a.template,
        context: parse("context", &a.context)?,
        locale: a.locale,
        subject: a.subject,
        body: a.body,
        html: a.html,
        options: parse("options", &a.options)?,
        provider: a.provider,
        tenant: a.tenant,
        priority: a.priority,
        run_at: a.run_at,
        expires_at: a.expires_at,
        idempotency_key: a.idempotency_key,
        max_attempts: a.max_attempts,
        category: a.category,
        digest_key: a.digest_key,
        ..NewMessage::new(a.kind)
    };
    let client = db::connect(&config.database_url).await?;
    let id = enqueue(&client, &message).await?;
    println!("{id}");
    Ok(())
}
