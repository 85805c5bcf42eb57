//! A throwaway local PostgreSQL cluster made with the machine's own
//! `initdb`/`pg_ctl`: the database of `outpost dev`, and of the tests when no
//! server is reachable. Works as root by running the server as `postgres`.

use std::net::TcpListener;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::Command;

/// Why the cluster could not be made or started.
#[derive(Debug, thiserror::Error)]
pub enum ClusterError {
    #[error(
        "PostgreSQL server binaries (initdb, pg_ctl) not found: install PostgreSQL \
         (Debian/Ubuntu: apt install postgresql) or set DATABASE_URL to an existing server"
    )]
    NotInstalled,
    #[error(
        "running as root, but there is no 'postgres' user to run the server as: create one (useradd -r postgres) or run as an ordinary user"
    )]
    NoPostgresUser,
    #[error("{step} failed: {detail}")]
    Command { step: String, detail: String },
    #[error("{0}")]
    Io(#[from] std::io::Error),
}

/// A running cluster under a directory.
#[derive(Debug)]
pub struct Cluster {
    bindir: PathBuf,
    data: PathBuf,
    port: u16,
    run_as: Option<String>,
    /// The server options it was started with, for [`Cluster::restart`].
    server_opts: String,
    /// Whether this process started the server (and should stop it).
    pub started_here: bool,
}

/// Server settings for a cluster.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// Turn off fsync: for tests, whose data is thrown away.
    pub fast_unsafe: bool,
    /// Serve TLS with this certificate and key (PEM files inside the cluster
    /// directory, so that the server's user owns them).
    pub tls: Option<(PathBuf, PathBuf)>,
}

impl Cluster {
    /// Creates the cluster under `dir` if it does not exist, and starts it on
    /// 127.0.0.1 (the previous run's port while it is free, else a free one)
    /// unless it is already running (then it is reused).
    pub fn start(dir: &Path, options: Options) -> Result<Self, ClusterError> {
        let bindir = find_bindir().ok_or(ClusterError::NotInstalled)?;
        let run_as = if is_root() {
            if !user_exists("postgres") {
                return Err(ClusterError::NoPostgresUser);
            }
            Some("postgres".to_owned())
        } else {
            None
        };
        std::fs::create_dir_all(dir)?;
        let dir = dir.canonicalize()?;
        let data = dir.join("data");
        let mut cluster = Self {
            bindir,
            data: data.clone(),
            port: 0,
            run_as,
            server_opts: String::new(),
            started_here: false,
        };
        if let Some(user) = &cluster.run_as {
            cluster.command_as_root("chown", &["-R", user, path_str(&dir)?])?;
            make_traversable(&dir)?;
        }
        if !data.join("PG_VERSION").exists() {
            let auth = "--auth=trust";
            cluster.pg(
                "initdb",
                &[
                    "-D",
                    path_str(&data)?,
                    "-U",
                    "postgres",
                    auth,
                    "--encoding=UTF8",
                    "--no-sync",
                ],
            )?;
        }
        if let Some(port) = cluster.running_port() {
            cluster.port = port;
            return Ok(cluster);
        }
        // The port of the last run, while it is free, so saved psql commands
        // and URLs keep working; else a new one, remembered for next time.
        let port_file = dir.join("port");
        let saved = std::fs::read_to_string(&port_file)
            .ok()
            .and_then(|p| p.trim().parse::<u16>().ok())
            .filter(|p| *p != 0 && TcpListener::bind(("127.0.0.1", *p)).is_ok());
        cluster.port = match saved {
            Some(port) => port,
            None => free_port()?,
        };
        std::fs::write(&port_file, format!("{}\n", cluster.port))?;
        let mut server_opts = format!(
            "-p {} -c listen_addresses=127.0.0.1 -c unix_socket_directories=''",
            cluster.port
        );
        if options.fast_unsafe {
            server_opts.push_str(" -c fsync=off -c synchronous_commit=off -c full_page_writes=off");
        }
        if let Some((cert, key)) = &options.tls {
            server_opts.push_str(&format!(
                " -c ssl=on -c ssl_cert_file={} -c ssl_key_file={}",
                path_str(cert)?,
                path_str(key)?
            ));
        }
        cluster.server_opts = server_opts;
        cluster.restart()?;
        cluster.started_here = true;
        Ok(cluster)
    }

    /// Starts the stopped server again, on the same port with the same settings.
    pub fn restart(&self) -> Result<(), ClusterError> {
        let log = self.data.with_file_name("postgres.log");
        self.pg(
            "pg_ctl",
            &[
                "-D",
                path_str(&self.data)?,
                "-l",
                path_str(&log)?,
                "-w",
                "-t",
                "60",
                "-o",
                &self.server_opts,
                "start",
            ],
        )
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// A connection URL for `database` as the superuser `postgres`.
    pub fn url(&self, database: &str) -> String {
        format!("postgres://postgres@127.0.0.1:{}/{database}", self.port)
    }

    /// Stops the server (fast shutdown).
    pub fn stop(&self) -> Result<(), ClusterError> {
        self.pg(
            "pg_ctl",
            &["-D", path_str(&self.data)?, "-m", "fast", "-w", "stop"],
        )
    }

    /// The port of a server already running on this data directory.
    fn running_port(&self) -> Option<u16> {
        let data = path_str(&self.data).ok()?;
        self.pg("pg_ctl", &["-D", data, "status"]).ok()?;
        let pid_file = std::fs::read_to_string(self.data.join("postmaster.pid")).ok()?;
        pid_file.lines().nth(3)?.trim().parse().ok()
    }

    fn pg(&self, program: &str, args: &[&str]) -> Result<(), ClusterError> {
        let exe = self.bindir.join(program);
        let mut cmd = match &self.run_as {
            Some(user) => {
                let mut c = Command::new("runuser");
                c.args(["-u", user, "--"]).arg(&exe);
                c
            }
            None => Command::new(&exe),
        };
        cmd.args(args);
        run(cmd, program)
    }

    fn command_as_root(&self, program: &str, args: &[&str]) -> Result<(), ClusterError> {
        let mut cmd = Command::new(program);
        cmd.args(args);
        run(cmd, program)
    }
}

fn run(mut cmd: Command, step: &str) -> Result<(), ClusterError> {
    let output = cmd.output().map_err(|e| ClusterError::Command {
        step: step.to_owned(),
        detail: e.to_string(),
    })?;
    if output.status.success() {
        return Ok(());
    }
    let mut detail = String::from_utf8_lossy(&output.stderr).trim().to_owned();
    if detail.is_empty() {
        detail = String::from_utf8_lossy(&output.stdout).trim().to_owned();
    }
    Err(ClusterError::Command {
        step: step.to_owned(),
        detail: format!("{} ({})", detail, output.status),
    })
}

/// The directory holding `initdb` and `pg_ctl`: `PG_BINDIR`, then
/// `pg_config --bindir`, then the newest `/usr/lib/postgresql/*/bin`, then PATH.
pub fn find_bindir() -> Option<PathBuf> {
    let has_tools = |dir: &Path| dir.join("initdb").is_file() && dir.join("pg_ctl").is_file();
    if let Some(dir) = std::env::var_os("PG_BINDIR").map(PathBuf::from)
        && has_tools(&dir)
    {
        return Some(dir);
    }
    if let Ok(out) = Command::new("pg_config").arg("--bindir").output() {
        let dir = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
        if out.status.success() && has_tools(&dir) {
            return Some(dir);
        }
    }
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let version = e.file_name().to_str()?.parse().ok()?;
            Some((version, e.path().join("bin")))
        })
        .filter(|(_, dir)| has_tools(dir))
        .collect();
    versions.sort();
    if let Some((_, dir)) = versions.pop() {
        return Some(dir);
    }
    std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
        .unwrap_or_default()
        .into_iter()
        .find(|dir| has_tools(dir))
}

fn is_root() -> bool {
    std::fs::metadata("/proc/self")
        .map(|m| m.uid() == 0)
        .unwrap_or(false)
}

fn user_exists(name: &str) -> bool {
    std::fs::read_to_string("/etc/passwd")
        .map(|p| p.lines().any(|l| l.split(':').next() == Some(name)))
        .unwrap_or(false)
}

/// Lets the server's user reach `dir` through its parents (a root-owned 0700
/// parent would otherwise stop it).
fn make_traversable(dir: &Path) -> Result<(), ClusterError> {
    use std::os::unix::fs::PermissionsExt;
    for ancestor in dir.ancestors().skip(1) {
        let meta = std::fs::metadata(ancestor)?;
        let mode = meta.permissions().mode();
        if mode & 0o001 == 0 {
            return Err(ClusterError::Command {
                step: "permissions".into(),
                detail: format!(
                    "{} is not searchable by the postgres user; choose a directory outside it",
                    ancestor.display()
                ),
            });
        }
    }
    Ok(())
}

fn free_port() -> Result<u16, ClusterError> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

fn path_str(path: &Path) -> Result<&str, ClusterError> {
    path.to_str().ok_or_else(|| ClusterError::Command {
        step: "path".into(),
        detail: format!("{} is not valid UTF-8", path.display()),
    })
}
