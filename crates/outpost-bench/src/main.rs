//! `outpost-bench`: drains, latency, multi-daemon scaling, growth and the
//! real-time inbox measured
//! against a fresh database, one JSON line per run (see BENCHMARKS.md). It
//! lives outside the product: the installed `outpost` has no bench code.

mod fair;
mod http_fake;
mod inbox;
mod latency;
mod peer;
mod run;
mod scale;

use anyhow::{Result, bail};
use clap::{Parser, Subcommand};

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(
    name = "outpost-bench",
    about = "Outpost's benchmarks, against a fresh database each run"
)]
struct Cli {
    /// A PostgreSQL server URL with rights to create databases.
    #[arg(
        long,
        global = true,
        env = "OUTPOST_BENCH_SERVER",
        default_value = "postgres://postgres@127.0.0.1:5432/postgres"
    )]
    server: String,
    #[command(subcommand)]
    command: BenchCommand,
}

#[derive(Subcommand)]
enum BenchCommand {
    /// Enqueue N messages in bulk, then drain them with one dispatcher.
    Drain {
        #[arg(long, default_value_t = 20_000)]
        messages: u64,
        /// discard, http or smtp.
        #[arg(long, default_value = "discard")]
        transport: String,
        /// Latency of the HTTP fake.
        #[arg(long, default_value = "0ms")]
        latency: humantime::Duration,
        #[command(flatten)]
        tuning: TuningArgs,
    },
    /// Offer messages one INSERT at a time at a fixed rate to an idle daemon.
    Latency {
        #[arg(long, default_value_t = 200)]
        rate: u32,
        #[arg(long, default_value_t = 10)]
        seconds: u32,
    },
    /// Tenant A's backlog queued, tenant B's messages offered while it
    /// drains: B's commit-to-send latency (fair claim, issue 28).
    Fair {
        #[arg(long, default_value_t = 100_000)]
        backlog: u64,
        #[arg(long, default_value_t = 100)]
        offered: u32,
        /// B's messages a second.
        #[arg(long, default_value_t = 50)]
        rate: u32,
        /// How long the provider takes to answer each send.
        #[arg(long, default_value = "5ms")]
        send_latency: humantime::Duration,
    },
    /// Drain with 1, 2 and 4 daemon processes through an HTTP fake answering after 50 ms.
    Scale {
        #[arg(long, default_value_t = 5_000)]
        messages: u64,
        #[arg(long, value_delimiter = ',', default_value = "1,2,4")]
        daemons: Vec<usize>,
        /// Databases each daemon serves (`[database] urls`), the messages
        /// split between them.
        #[arg(long, default_value_t = 1)]
        databases: usize,
        /// `host:port` of a transaction pooler (PgBouncer) the daemons claim
        /// through, LISTEN going direct (one database only).
        #[arg(long)]
        pooler: Option<String>,
        #[arg(long, default_value = "50ms")]
        latency: humantime::Duration,
    },
    /// Open N inbox streams on one daemon, then send system messages at a
    /// fixed rate to random users: commit-to-event latency and memory per stream.
    Inbox {
        #[arg(long, default_value_t = 2_000)]
        streams: usize,
        #[arg(long, default_value_t = 1_000)]
        messages: u32,
        /// Messages a second.
        #[arg(long, default_value_t = 100)]
        rate: u32,
    },
    /// Serve a drain's peer (started by `drain`): the HTTP fake or the SMTP sink.
    Peer {
        /// http or smtp.
        #[arg(long)]
        kind: String,
        #[arg(long, default_value = "0ms")]
        latency: humantime::Duration,
    },
    /// The drain rate at growing queue sizes (discard transport).
    Growth {
        #[arg(long, value_delimiter = ',', default_value = "10000,100000,1000000")]
        sizes: Vec<u64>,
        /// Leave each drained database in place (its name is in the report),
        /// to time queries on the grown tables; drop it yourself afterwards.
        #[arg(long)]
        keep_database: bool,
        #[command(flatten)]
        tuning: TuningArgs,
    },
}

/// The in-process dispatcher's claim batch and send concurrency.
#[derive(clap::Args, Debug, Clone, Copy)]
struct TuningArgs {
    /// Rows per claim and per outcome batch.
    #[arg(long, default_value_t = 500)]
    batch_size: u32,
    /// Sends in flight at once.
    #[arg(long, default_value_t = 1000)]
    concurrency: u32,
}

impl From<TuningArgs> for run::Tuning {
    fn from(a: TuningArgs) -> Self {
        Self {
            batch_size: a.batch_size,
            concurrency: a.concurrency,
        }
    }
}

#[tokio::main]
async fn main() -> Result<()> {
    // The daemon's allocator setting, so the bench measures its memory.
    outpost::allocator::tune();
    let cli = Cli::parse();
    bench(&cli.server, cli.command).await
}

async fn bench(server: &str, command: BenchCommand) -> Result<()> {
    let print = |report: &run::Report| -> Result<()> {
        println!("{}", serde_json::to_string(report)?);
        Ok(())
    };
    match command {
        BenchCommand::Drain {
            messages,
            transport,
            latency,
            tuning,
        } => {
            let transport = match transport.as_str() {
                "discard" => run::Transport::Discard,
                "http" => run::Transport::Http(latency.into()),
                "smtp" => run::Transport::Smtp,
                other => bail!("--transport must be discard, http or smtp, not {other:?}"),
            };
            print(&run::drain(server, messages, transport, tuning.into(), false).await?)?;
        }
        BenchCommand::Fair {
            backlog,
            offered,
            rate,
            send_latency,
        } => print(&fair::fair(server, backlog, offered, rate, send_latency.into()).await?)?,
        BenchCommand::Latency { rate, seconds } => {
            print(&latency::latency(server, rate, seconds).await?)?
        }
        BenchCommand::Scale {
            messages,
            daemons,
            databases,
            pooler,
            latency,
        } => {
            if pooler.is_some() && databases > 1 {
                bail!("--pooler serves one database: leave --databases at 1");
            }
            for k in daemons {
                let report = scale::scale(
                    server,
                    messages,
                    k,
                    databases,
                    latency.into(),
                    pooler.as_deref(),
                )
                .await?;
                print(&report)?;
            }
        }
        BenchCommand::Inbox {
            streams,
            messages,
            rate,
        } => println!(
            "{}",
            serde_json::to_string(&inbox::inbox(server, streams, messages, rate).await?)?
        ),
        BenchCommand::Peer { kind, latency } => {
            let kind = match kind.as_str() {
                "http" => peer::PeerKind::Http(latency.into()),
                "smtp" => peer::PeerKind::Smtp,
                other => bail!("--kind must be http or smtp, not {other:?}"),
            };
            peer::serve(kind).await?;
        }
        BenchCommand::Growth {
            sizes,
            keep_database,
            tuning,
        } => {
            for n in sizes {
                let transport = run::Transport::Discard;
                print(&run::drain(server, n, transport, tuning.into(), keep_database).await?)?;
            }
        }
    }
    Ok(())
}
