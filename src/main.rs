//! The `outpost` command line: the commands and their arguments; each
//! command's work is in its own module under `cmd/`.

mod cmd;

use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use clap::{Parser, Subcommand};

use cmd::send::SendArgs;
use outpost::config::{Config, Sources};

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
        command: cmd::console::ConsoleCommand,
    },
    /// Hold back a kind, a provider or a tenant on every daemon (messages
    /// wait, queued; nothing is lost).
    Pause {
        #[command(flatten)]
        target: cmd::pause::PauseTarget,
        /// Why, for the audit log and the console.
        #[arg(long)]
        reason: Option<String>,
    },
    /// Let a paused kind, provider or tenant go again.
    Resume {
        #[command(flatten)]
        target: cmd::pause::PauseTarget,
    },
    /// The real-time inbox's signing keys.
    Inbox {
        #[command(subcommand)]
        command: cmd::inbox::InboxCommand,
    },
    /// Which login role acts for which tenant.
    Tenant {
        #[command(subcommand)]
        command: cmd::tenant::TenantCommand,
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

fn main() -> Result<()> {
    outpost::allocator::tune();
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
        } => cmd::config::check(&sources),
        Command::Dev { dir } => cmd::dev::dev(sources, dir).await,
        command => {
            let config = Config::load(&sources)?;
            cmd::logging::init(&config);
            // Behind a transaction pooler: statements that need no session.
            outpost::pools::prepare(&config)?;
            match command {
                Command::Run { migrate } => cmd::run::run(&config, migrate).await,
                Command::Migrate => cmd::migrate::migrate_all(&config).await,
                Command::Send(args) => cmd::send::send(&config, args).await,
                Command::Status { id, user, since } => {
                    cmd::status::show_status(&config, id, user, &since).await
                }
                Command::Stats { since } => cmd::status::stats(&config, &since).await,
                Command::Templates {
                    command: TemplatesCommand::Check,
                } => cmd::templates::check(&config),
                Command::Console { command } => cmd::console::run(&config, command).await,
                Command::Tenant { command } => cmd::tenant::run(&config, command).await,
                Command::Inbox { command } => cmd::inbox::run(&config, command).await,
                Command::Pause { target, reason } => {
                    cmd::pause::pause(&config, target, reason).await
                }
                Command::Resume { target } => cmd::pause::resume(&config, target).await,
                Command::Push {
                    command:
                        PushCommand::Test {
                            app,
                            channel,
                            device_type,
                            message,
                        },
                } => {
                    cmd::push::push_test(&config, app.as_deref(), &channel, device_type, &message)
                        .await
                }
                Command::Config { .. } | Command::Dev { .. } => {
                    bail!("internal error: handled above")
                }
            }
        }
    }
}
