//! The `outpost` command line: run, migrate, dev, send, status, config check.

mod commands;
mod console_cmd;

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{Context, Result, bail};
use clap::{Parser, Subcommand};
use tokio_util::sync::CancellationToken;

use outpost::config::{Config, RawConfig, Sources};
use outpost::enqueue::{NewMessage, enqueue};
use outpost::message::{Kind, MessageId};
use outpost::render::Templates;
use outpost::{daemon, db, status};

// glibc's allocator cost the HTTP path about 8 % of its CPU in malloc and
// free (BENCHMARKS.md); mimalloc keeps per-thread free lists.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(
    name = "outpost",
    version,
    about = "A durable, outbox-driven notification daemon on PostgreSQL"
)]
struct Cli {
    /// TOML configuration file (every key is optional; see config/outpost.toml).
    #[arg(long, global = true, env = "OUTPOST_CONFIG")]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the daemon until SIGTERM or SIGINT.
    Run {
        /// Apply pending migrations before starting.
        #[arg(long)]
        migrate: bool,
    },
    /// Apply pending database migrations.
    Migrate,
    /// Run on a throwaway local PostgreSQL with console backends.
    Dev {
        /// Where the local cluster lives.
        #[arg(long, default_value = ".outpost/dev")]
        dir: PathBuf,
    },
    /// Enqueue one message and print its id.
    Send(Box<SendArgs>),
    /// Show one message with its attempts, a user's messages, or counts by kind and status.
    Status {
        /// A message id.
        id: Option<i64>,
        /// List this user's messages instead.
        #[arg(long, conflicts_with = "id")]
        user: Option<String>,
        /// With --user: since this time (RFC 3339) or this long ago (e.g. 7d, 12h).
        #[arg(long, default_value = "7d")]
        since: String,
    },
    /// Counts, success rate and p50/p95 send latency by kind and provider.
    Stats {
        /// Since this time (RFC 3339) or this long ago (e.g. 24h).
        #[arg(long, default_value = "24h")]
        since: String,
    },
    /// Configuration tools.
    Config {
        #[command(subcommand)]
        command: ConfigCommand,
    },
    /// Template tools.
    Templates {
        #[command(subcommand)]
        command: TemplatesCommand,
    },
    /// The operator console's users.
    Console {
        #[command(subcommand)]
        command: console_cmd::ConsoleCommand,
    },
    /// Push tools.
    Push {
        #[command(subcommand)]
        command: PushCommand,
    },
}

#[derive(Subcommand)]
enum PushCommand {
    /// Send one test push to a single device and print the outcome.
    Test {
        /// An app of outpost.push_apps; without it, the [push] app.
        #[arg(long)]
        app: Option<String>,
        /// The device's Channel ID (shown in the app's "About app" screen).
        #[arg(long)]
        channel: String,
        /// ios, android, web or amazon, when known.
        #[arg(long)]
        device_type: Option<String>,
        #[arg(long, default_value = "Test notification from Outpost")]
        message: String,
    },
}

#[derive(Subcommand)]
enum TemplatesCommand {
    /// Render every template in every configured locale; report each error with file and line.
    Check,
}

#[derive(Subcommand)]
enum ConfigCommand {
    /// Print the effective configuration (secrets redacted); fail if it is invalid.
    Check,
}

#[derive(clap::Args)]
struct SendArgs {
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

fn main() -> Result<()> {
    let cli = Cli::parse();
    outpost::tls::install_crypto_provider();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(dispatch(cli))
}

async fn dispatch(cli: Cli) -> Result<()> {
    let sources = Sources::from_process(cli.config.as_deref());
    match cli.command {
        Command::Config {
            command: ConfigCommand::Check,
        } => config_check(&sources),
        Command::Dev { dir } => commands::dev(sources, dir).await,
        command => {
            let config = Config::load(&sources)?;
            init_logging(&config);
            match command {
                Command::Run { migrate } => run(&config, migrate).await,
                Command::Migrate => migrate_db(&config.database_url).await,
                Command::Send(args) => send(&config, args).await,
                Command::Status { id, user, since } => show_status(&config, id, user, &since).await,
                Command::Stats { since } => {
                    let client = db::connect(&config.database_url).await?;
                    print!("{}", status::stats(&client, parse_since(&since)?).await?);
                    Ok(())
                }
                Command::Templates {
                    command: TemplatesCommand::Check,
                } => templates_check(&config),
                Command::Console { command } => console_cmd::run(&config, command).await,
                Command::Push {
                    command:
                        PushCommand::Test {
                            app,
                            channel,
                            device_type,
                            message,
                        },
                } => {
                    commands::push_test(&config, app.as_deref(), &channel, device_type, &message)
                        .await
                }
                Command::Config { .. } | Command::Dev { .. } => {
                    bail!("internal error: handled above")
                }
            }
        }
    }
}

fn config_check(sources: &Sources<'_>) -> Result<()> {
    let raw = RawConfig::load(sources)?;
    let printed = raw.to_redacted_toml();
    Config::validate(raw)?;
    print!("{printed}");
    eprintln!("configuration is valid");
    Ok(())
}

pub(crate) fn init_logging(config: &Config) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(&config.log.level));
    // Colour only for a person at a terminal: a file or the journal gets plain text.
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_writer(std::io::stderr);
    let _ = if config.log.format == outpost::config::LogFormat::Json {
        builder.json().try_init()
    } else {
        builder.try_init()
    };
}

/// Cancels the returned token on SIGINT or SIGTERM; a second signal exits at once.
pub(crate) fn shutdown_on_signals() -> CancellationToken {
    let token = CancellationToken::new();
    let cancel = token.clone();
    tokio::spawn(async move {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(s) => s,
                Err(e) => {
                    tracing::error!(error = %e, "cannot listen for SIGTERM");
                    return;
                }
            };
        for round in 0..2 {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
            if round == 0 {
                tracing::info!(
                    "shutting down: finishing in-flight messages (signal again to stop at once)"
                );
                cancel.cancel();
            } else {
                tracing::warn!("second signal: exiting now; unfinished leases will be rescued");
                std::process::exit(130);
            }
        }
    });
    token
}

async fn run(config: &Config, migrate_first: bool) -> Result<()> {
    if migrate_first {
        migrate_db(&config.database_url).await?;
    }
    let shutdown = shutdown_on_signals();
    daemon::run(config, channels(config)?, shutdown).await?;
    Ok(())
}

/// Templates (reloaded on SIGHUP) and the configured channels.
pub(crate) fn channels(config: &Config) -> Result<outpost::channel::Channels> {
    let templates = Arc::new(Templates::load(&config.template_source())?);
    daemon::reload_on_sighup(templates.clone());
    Ok(daemon::build_channels(config, templates)?)
}

fn templates_check(config: &Config) -> Result<()> {
    let report = outpost::render::check::check(&config.template_source())?;
    for problem in &report.problems {
        match &problem.locale {
            Some(locale) => println!("{} (locale {locale})", problem.error),
            None => println!("{}", problem.error),
        }
    }
    eprintln!(
        "{} renders in locales {}: {} problem(s)",
        report.rendered,
        report.locales.join(", "),
        report.problems.len()
    );
    if !report.problems.is_empty() {
        bail!("template check failed");
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

async fn send(config: &Config, a: Box<SendArgs>) -> Result<()> {
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

/// An RFC 3339 time, or a duration ago ("7d", "12h").
fn parse_since(text: &str) -> Result<chrono::DateTime<chrono::Utc>> {
    if let Ok(at) = chrono::DateTime::parse_from_rfc3339(text) {
        return Ok(at.with_timezone(&chrono::Utc));
    }
    let ago = humantime::parse_duration(text).with_context(|| {
        format!("--since {text:?} is neither an RFC 3339 time nor a duration like 7d")
    })?;
    Ok(chrono::Utc::now() - chrono::Duration::from_std(ago).context("--since is too long ago")?)
}

async fn show_status(
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
        None => print!("{}", status::summary(&client).await?),
    }
    Ok(())
}
