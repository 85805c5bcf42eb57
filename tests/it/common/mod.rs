//! Test harness: a real PostgreSQL (DATABASE_URL, else 127.0.0.1:5432, else a
//! throwaway cluster started here), a fresh database per test cloned from a
//! migrated template, and a recording channel.

pub mod browser;
pub mod console;
pub mod daemon;
pub mod databases;
pub mod fake;
pub mod inbox;
pub mod pgbouncer;
pub mod prism;
pub mod recorder;
pub mod smtp;
pub mod webhook;

use std::path::PathBuf;
use std::sync::Arc;

use outpost::channel::Channels;
use outpost::config::{Config, Sources};
use outpost::dispatch::Dispatcher;
use outpost::enqueue::{NewMessage, enqueue};
use outpost::message::{Kind, MessageId};
use tokio::sync::OnceCell;
use tokio_postgres::NoTls;

static SERVER: OnceCell<Server> = OnceCell::const_new();

/// Databases this process created, dropped when it exits.
static CREATED: std::sync::Mutex<Vec<String>> = std::sync::Mutex::new(Vec::new());
static CLEANUP: std::sync::Once = std::sync::Once::new();

/// Registers `name` to be dropped when the test binary exits (an `atexit`
/// hook: the harness never drops statics, and one connection at the end is
/// cheaper than one per test).
fn drop_at_exit(name: &str) {
    CREATED.lock().unwrap().push(name.to_owned());
    CLEANUP.call_once(|| {
        extern "C" fn cleanup() {
            drop_created();
        }
        // SAFETY: `cleanup` is a plain function that never unwinds across the
        // FFI boundary (everything runs on a thread whose panic is caught by join).
        unsafe {
            libc::atexit(cleanup);
        }
    });
}

/// Drops every database in [`CREATED`] over one connection.
fn drop_created() {
    let names = std::mem::take(&mut *CREATED.lock().unwrap_or_else(|e| e.into_inner()));
    let Some(server) = SERVER.get() else { return };
    if names.is_empty() {
        return;
    }
    let url = server.admin_url.clone();
    let _ = std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async {
            let Ok((client, connection)) = url
                .parse::<tokio_postgres::Config>()
                .unwrap()
                .connect(NoTls)
                .await
            else {
                return;
            };
            tokio::spawn(connection);
            for name in names {
                let _ = client
                    .batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                    .await;
            }
        });
    })
    .join();
}

struct Server {
    /// URL of a maintenance database on the server.
    admin_url: String,
    template: String,
}

/// A fresh, migrated database for one test.
pub struct TestDb {
    pub url: String,
    pub name: String,
}

async fn reachable(url: &str) -> bool {
    let Ok(mut config) = url.parse::<tokio_postgres::Config>() else {
        return false;
    };
    config.connect_timeout(std::time::Duration::from_secs(2));
    config.connect(NoTls).await.is_ok()
}

async fn find_server() -> String {
    if let Ok(url) = std::env::var("DATABASE_URL") {
        assert!(
            reachable(&url).await,
            "DATABASE_URL is set but not reachable: {url}"
        );
        return url;
    }
    let local = "postgres://postgres@127.0.0.1:5432/postgres";
    if reachable(local).await {
        return local.to_owned();
    }
    // Nothing reachable: one throwaway cluster shared by every test process,
    // started under a file lock and left running for the next ones.
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/outpost-test-pg");
    tokio::task::spawn_blocking(move || {
        std::fs::create_dir_all(&dir).unwrap();
        let lock = std::fs::File::create(dir.with_extension("lock")).unwrap();
        lock.lock().unwrap();
        let options = outpost::cluster::Options {
            fast_unsafe: true,
            tls: None,
        };
        let cluster = outpost::cluster::Cluster::start(&dir, options)
            .unwrap_or_else(|e| panic!("cannot start a test PostgreSQL: {e}"));
        cluster.url("postgres")
    })
    .await
    .unwrap()
}

async fn admin(url: &str) -> tokio_postgres::Client {
    outpost::db::connect(url)
        .await
        .expect("connect to the test server")
}

fn template_name() -> String {
    use sha2::Digest;
    let mut hasher = sha2::Sha256::new();
    for m in outpost::db::migrate::MIGRATIONS {
        hasher.update(m.checksum().as_bytes());
    }
    format!("outpost_tpl_{}", &hex::encode(hasher.finalize())[..16])
}

fn with_database(url: &str, name: &str) -> String {
    let mut config: tokio_postgres::Config = url.parse().unwrap();
    config.dbname(name);
    // Rebuild a URL from the parts the harness needs.
    let host = match &config.get_hosts()[0] {
        tokio_postgres::config::Host::Tcp(h) => h.clone(),
        tokio_postgres::config::Host::Unix(p) => p.display().to_string(),
    };
    let port = config.get_ports().first().copied().unwrap_or(5432);
    let user = config.get_user().unwrap_or("postgres");
    match config.get_password() {
        Some(pw) => format!(
            "postgres://{user}:{}@{host}:{port}/{name}",
            String::from_utf8_lossy(pw)
        ),
        None => format!("postgres://{user}@{host}:{port}/{name}"),
    }
}

async fn server() -> &'static Server {
    SERVER
        .get_or_init(|| async {
            let admin_url = find_server().await;
            let client = admin(&admin_url).await;
            // Serialise template creation and cleanup across test processes.
            client
                .execute("SELECT pg_advisory_lock(7411)", &[])
                .await
                .unwrap();
            drop_stale(&client).await;
            let template = template_name();
            // Templates of older schemas, past the newest four: another
            // checkout (a branch with other migrations) may be cloning one
            // of those at this moment.
            for row in client
                .query(
                    "SELECT datname FROM pg_database WHERE datname LIKE 'outpost\\_tpl\\_%' AND datname <> $1 \
                     ORDER BY oid DESC OFFSET 4",
                    &[&template],
                )
                .await
                .unwrap()
            {
                let name: String = row.get(0);
                let _ = client
                    .batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                    .await;
            }
            let exists = client
                .query_opt("SELECT 1 FROM pg_database WHERE datname = $1", &[&template])
                .await
                .unwrap()
                .is_some();
            if !exists {
                let building = format!("{template}_building");
                client
                    .batch_execute(&format!("DROP DATABASE IF EXISTS {building}"))
                    .await
                    .unwrap();
                client
                    .batch_execute(&format!("CREATE DATABASE {building}"))
                    .await
                    .unwrap();
                {
                    let mut c = admin(&with_database(&admin_url, &building)).await;
                    outpost::db::migrate::migrate(&mut c).await.unwrap();
                }
                client
                    .batch_execute(&format!("ALTER DATABASE {building} RENAME TO {template}"))
                    .await
                    .unwrap_or_else(|e| panic!("rename template: {e:?}"));
            }
            client
                .execute("SELECT pg_advisory_unlock(7411)", &[])
                .await
                .unwrap();
            Server {
                admin_url,
                template,
            }
        })
        .await
}

/// Drops test databases left by processes that no longer exist.
async fn drop_stale(client: &tokio_postgres::Client) {
    let rows = client
        .query(
            "SELECT datname FROM pg_database WHERE datname LIKE 'outpost\\_t\\_%'",
            &[],
        )
        .await
        .unwrap();
    for row in rows {
        let name: String = row.get(0);
        let pid: Option<u32> = name.split('_').nth(2).and_then(|p| p.parse().ok());
        let alive = pid.is_some_and(|p| std::path::Path::new(&format!("/proc/{p}")).exists());
        if !alive {
            let _ = client
                .batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                .await;
        }
    }
}

/// The maintenance URL of the test server (for tools that create databases).
pub async fn server_url() -> String {
    server().await.admin_url.clone()
}

impl TestDb {
    /// A new database cloned from the migrated template.
    pub async fn new() -> Self {
        let server = server().await;
        let name = format!(
            "outpost_t_{}_{:08x}",
            std::process::id(),
            rand::random::<u32>()
        );
        let client = admin(&server.admin_url).await;
        let mut tries = 0;
        loop {
            let sql = format!("CREATE DATABASE {name} TEMPLATE {}", server.template);
            match client.batch_execute(&sql).await {
                Ok(()) => break,
                // Another process may be cloning the template at this moment.
                Err(e) if tries < 50 => {
                    tries += 1;
                    let _ = e;
                    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                }
                Err(e) => panic!("cannot create test database: {e:?}"),
            }
        }
        drop_at_exit(&name);
        Self {
            url: with_database(&server.admin_url, &name),
            name,
        }
    }

    pub async fn client(&self) -> tokio_postgres::Client {
        admin(&self.url).await
    }

    /// The configuration a test dispatcher uses, with `overrides` such as
    /// `("OUTPOST__DISPATCH__LEASE", "30s")`.
    pub fn config(&self, overrides: &[(&str, &str)]) -> Config {
        let env: Vec<(String, String)> = overrides
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        self.config_env(env)
    }

    /// As [`TestDb::config`], with owned pairs; templates and catalogs are the shipped samples.
    pub fn config_env(&self, overrides: Vec<(String, String)>) -> Config {
        let root = env!("CARGO_MANIFEST_DIR");
        let mut env = vec![
            ("DATABASE_URL".to_owned(), self.url.clone()),
            (
                "OUTPOST__TEMPLATES__DIR".to_owned(),
                format!("{root}/templates"),
            ),
            ("OUTPOST__LOCALE__DIR".to_owned(), format!("{root}/locale")),
            ("OUTPOST__HTTP__LISTEN".to_owned(), "127.0.0.1:0".to_owned()),
            ("OUTPOST__OPS__LISTEN".to_owned(), "127.0.0.1:0".to_owned()),
        ];
        env.extend(overrides);
        Config::load(&Sources { file: None, env }).expect("test configuration")
    }

    /// The channels `outpost run` would build from `config`, console output captured.
    pub fn channels(&self, config: &Config) -> (Channels, Arc<std::sync::Mutex<Vec<u8>>>) {
        let templates =
            Arc::new(outpost::render::Templates::load(&config.template_source()).unwrap());
        let sink = Arc::new(std::sync::Mutex::new(Vec::new()));
        let channels =
            outpost::daemon::build_channels_with_sink(config, templates, sink.clone()).unwrap();
        (channels, sink)
    }

    pub fn dispatcher(&self, config: &Config, channels: Channels, worker: &str) -> Arc<Dispatcher> {
        let pool = outpost::db::pool(&self.url, config.pool_size).unwrap();
        Arc::new(Dispatcher::new(pool, config, channels, worker))
    }

    /// Enqueues an e-mail to `address` with a literal subject and body.
    pub async fn email(&self, client: &tokio_postgres::Client, address: &str) -> MessageId {
        let mut m = NewMessage::new(Kind::Email);
        m.to_address = Some(address.to_owned());
        m.subject = Some("Hello".into());
        m.body = Some("Body".into());
        enqueue(client, &m).await.unwrap()
    }
}

/// The one bigint a query returns (a count, a sum, an id).
pub async fn count(client: &tokio_postgres::Client, sql: &str) -> i64 {
    client.query_one(sql, &[]).await.unwrap().get(0)
}

/// The one value of the one row `sql` returns with `params`.
pub async fn scalar<T: tokio_postgres::types::FromSqlOwned>(
    client: &tokio_postgres::Client,
    sql: &str,
    params: &[&(dyn tokio_postgres::types::ToSql + Sync)],
) -> T {
    client.query_one(sql, params).await.unwrap().get(0)
}

/// Polls `sql` (one bigint) until `done` says yes, every 50 ms, failing the
/// test after `limit`.
pub async fn wait_until(
    client: &tokio_postgres::Client,
    sql: &str,
    limit: std::time::Duration,
    done: impl Fn(i64) -> bool,
) {
    let deadline = std::time::Instant::now() + limit;
    loop {
        let n = count(client, sql).await;
        if done(n) {
            return;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "timed out waiting on {sql} (last {n})"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

/// The status, attempts and last_error of a message.
pub async fn row(client: &tokio_postgres::Client, id: MessageId) -> (String, i32, Option<String>) {
    let r = client
        .query_one(
            "SELECT status, attempts, last_error FROM outpost.messages WHERE id = $1",
            &[&id.0],
        )
        .await
        .unwrap();
    (r.get(0), r.get(1), r.get(2))
}

/// A free TCP port on 127.0.0.1.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A self-signed leaf certificate for `localhost` and 127.0.0.1 (usable as
/// its own trust anchor), written as `cert` and `key` PEM files.
pub fn self_signed(cert: &std::path::Path, key: &std::path::Path) {
    let status = std::process::Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "2",
            "-subj",
            "/CN=localhost",
        ])
        .args(["-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"])
        .args(["-addext", "basicConstraints=critical,CA:FALSE"])
        .arg("-keyout")
        .arg(key)
        .arg("-out")
        .arg(cert)
        .stderr(std::process::Stdio::null())
        .status()
        .expect("openssl is needed to make test certificates");
    assert!(status.success());
}
