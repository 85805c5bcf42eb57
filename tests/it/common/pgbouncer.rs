//! A real PgBouncer (Debian's `pgbouncer`, 1.18 here) in transaction pooling
//! mode in front of one test database: a config file in a temporary
//! directory, trust authentication through an auth_file, a free port on
//! 127.0.0.1, a small server pool so that clients share server connections.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::TestDb;

/// A running PgBouncer; stopped when dropped.
pub struct Bouncer {
    child: Child,
    dir: tempfile::TempDir,
    /// The test database through PgBouncer.
    pub url: String,
}

impl Drop for Bouncer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Bouncer {
    /// PgBouncer's log so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("pgbouncer.log")).unwrap_or_default()
    }
}

/// The `pgbouncer` binary; a test that needs it fails (never skips) without it.
fn binary() -> PathBuf {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(["/usr/sbin".into(), "/usr/local/sbin".into()])
        .map(|dir| dir.join("pgbouncer"))
        .find(|p| p.is_file())
        .expect("no pgbouncer: apt-get install pgbouncer (scripts/test installs it)")
}

fn is_root() -> bool {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata("/proc/self").is_ok_and(|m| m.uid() == 0)
}

/// Starts PgBouncer in transaction mode in front of `db`, with at most
/// `server_pool` server connections to it.
pub async fn start(db: &TestDb, server_pool: u32) -> Bouncer {
    use std::os::unix::fs::PermissionsExt;
    let server: tokio_postgres::Config = db.url.parse().unwrap();
    let host = match &server.get_hosts()[0] {
        tokio_postgres::config::Host::Tcp(h) => h.clone(),
        tokio_postgres::config::Host::Unix(p) => p.display().to_string(),
    };
    let port = server.get_ports().first().copied().unwrap_or(5432);
    let user = server.get_user().unwrap_or("postgres").to_owned();
    let password = server
        .get_password()
        .map(|p| format!(" password={}", String::from_utf8_lossy(p)))
        .unwrap_or_default();
    let dir = tempfile::tempdir().unwrap();
    // PgBouncer refuses to run as root: it switches to postgres (-u), which
    // must read the files and write the log.
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o777)).unwrap();
    let listen = super::free_port();
    let auth = dir.path().join("users.txt");
    std::fs::write(&auth, format!("\"{user}\" \"\"\n")).unwrap();
    let ini = dir.path().join("pgbouncer.ini");
    std::fs::write(
        &ini,
        format!(
            "[databases]\n{name} = host={host} port={port} dbname={name} user={user}{password}\n\
             [pgbouncer]\nlisten_addr = 127.0.0.1\nlisten_port = {listen}\nunix_socket_dir =\n\
             auth_type = trust\nauth_file = {auth}\npool_mode = transaction\n\
             default_pool_size = {server_pool}\nmax_client_conn = 500\n\
             logfile = {log}\n",
            name = db.name,
            auth = auth.display(),
            log = dir.path().join("pgbouncer.log").display(),
        ),
    )
    .unwrap();
    for file in [&auth, &ini] {
        std::fs::set_permissions(file, std::fs::Permissions::from_mode(0o644)).unwrap();
    }
    let mut cmd = Command::new(binary());
    if is_root() {
        cmd.args(["-u", "postgres"]);
    }
    let child = cmd
        .arg(&ini)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("cannot start pgbouncer");
    let url = format!("postgres://{user}@127.0.0.1:{listen}/{}", db.name);
    let mut bouncer = Bouncer { child, dir, url };
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let config: tokio_postgres::Config = bouncer.url.parse().unwrap();
        if let Ok((client, connection)) = config.connect(tokio_postgres::NoTls).await {
            tokio::spawn(connection);
            if client.simple_query("SELECT 1").await.is_ok() {
                return bouncer;
            }
        }
        if let Ok(Some(status)) = bouncer.child.try_wait() {
            panic!("pgbouncer exited ({status}): {}", bouncer.log());
        }
        assert!(
            Instant::now() < deadline,
            "pgbouncer did not answer: {}",
            bouncer.log()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
