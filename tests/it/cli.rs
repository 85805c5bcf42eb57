//! The `outpost` binary end to end: config check, send, status, run with
//! SIGTERM, and `outpost dev` on its own throwaway PostgreSQL.

use crate::common;

use std::io::{BufRead, BufReader, Read};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use common::TestDb;

fn outpost() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_outpost"));
    for (key, _) in std::env::vars() {
        if key.starts_with("OUTPOST") || key == "DATABASE_URL" || key == "RUST_LOG" {
            cmd.env_remove(key);
        }
    }
    // Tests run side by side: each daemon takes a free port.
    cmd.env("OUTPOST__HTTP__LISTEN", "127.0.0.1:0");
    cmd.env("OUTPOST__OPS__LISTEN", "127.0.0.1:0");
    cmd
}

fn text(output: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

fn signal(child: &Child, sig: &str) {
    let status = Command::new("kill")
        .args([sig, &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
}

/// Kills the child if the test fails before it exits.
struct Guard(Child);

impl Drop for Guard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Lines of a child's pipe, read on a thread so a test can time out.
fn lines(pipe: impl Read + Send + 'static) -> std::sync::mpsc::Receiver<String> {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(pipe).lines() {
            match line {
                Ok(line) => {
                    if tx.send(line).is_err() {
                        return;
                    }
                }
                Err(_) => return,
            }
        }
    });
    rx
}

/// Collects lines until one satisfies `done`, for at most 30 s.
fn read_until(rx: &std::sync::mpsc::Receiver<String>, done: impl Fn(&str) -> bool) -> String {
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut seen = String::new();
    while let Some(left) = deadline.checked_duration_since(Instant::now()) {
        match rx.recv_timeout(left) {
            Ok(line) => {
                seen.push_str(&line);
                seen.push('\n');
                if done(&line) {
                    return seen;
                }
            }
            Err(_) => break,
        }
    }
    panic!("did not see the expected line; got:\n{seen}");
}

/// Waits for `child` to exit, killing it after `limit`.
fn wait_exit(child: &mut Child, limit: Duration) -> std::process::ExitStatus {
    let start = Instant::now();
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        if start.elapsed() > limit {
            let _ = child.kill();
            panic!("process did not exit within {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Runs `outpost [config_args] config check` with `env` and asserts that it
/// fails with `expected` on stderr.
fn config_check_fails(config_args: &[&str], env: &[(&str, &str)], expected: &str) {
    let mut cmd = outpost();
    cmd.args(config_args).args(["config", "check"]);
    for (key, value) in env {
        cmd.env(key, value);
    }
    let out = cmd.output().unwrap();
    assert!(!out.status.success());
    assert!(text(&out).1.contains(expected), "{}", text(&out).1);
}

#[test]
fn config_check_prints_the_effective_config_without_secrets() {
    let out = outpost()
        .args(["config", "check"])
        .env(
            "DATABASE_URL",
            "postgres://app:hunter2@db.internal:5432/outpost",
        )
        .env("OUTPOST__DISPATCH__LEASE", "45s")
        .output()
        .unwrap();
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stderr}");
    assert!(!stdout.contains("hunter2") && !stderr.contains("hunter2"));
    assert!(
        stdout.contains("user=app password=[redacted] host=db.internal port=5432 dbname=outpost"),
        "{stdout}"
    );
    assert!(stdout.contains("lease = \"45s\""), "{stdout}");
    // Durations print as written, not as "2months 29days 2h 52m 48s".
    assert!(stdout.contains("event_retention = \"90d\""), "{stdout}");
    assert!(stdout.contains("retention = \"30d\""), "{stdout}");
}

/// Every form of DATABASE_URL tokio-postgres accepts prints without its
/// password; one it cannot parse is not printed at all.
#[test]
fn config_check_never_prints_a_database_password() {
    for url in [
        "host = db.internal user = app password = hunter2 dbname = outpost",
        "host=db.internal user=app password='hunter2 with spaces' dbname=outpost",
        "host=db.internal user=app password='it\\'s hunter2' dbname=outpost",
        "postgres://app:hunter2/x@db.internal/outpost",
        "postgres://app:hunter2%2Fy@db.internal/outpost?sslmode=require",
        "postgresql://app@db.internal/outpost?password=hunter2",
    ] {
        let out = outpost()
            .args(["config", "check"])
            .env("DATABASE_URL", url)
            .output()
            .unwrap();
        let (stdout, stderr) = text(&out);
        assert!(out.status.success(), "{url}: {stderr}");
        assert!(
            !stdout.contains("hunter2") && !stderr.contains("hunter2"),
            "{url}: {stdout}"
        );
        assert!(stdout.contains("password=[redacted]"), "{url}: {stdout}");
    }
    // An unencoded '@' in the password: refused, and nothing of it printed.
    let out = outpost()
        .args(["config", "check"])
        .env(
            "DATABASE_URL",
            "postgres://app:hunter2@b@db.internal/outpost",
        )
        .output()
        .unwrap();
    let (stdout, stderr) = text(&out);
    assert!(!out.status.success());
    assert!(
        stderr.contains("database.url: the host part contains '@'"),
        "{stderr}"
    );
    assert!(!stdout.contains("hunter2") && !stderr.contains("hunter2"));
    assert!(
        !stdout.contains("@b") && !stderr.contains("b@db"),
        "{stderr}"
    );
}

#[test]
fn config_check_names_the_invalid_key() {
    config_check_fails(
        &[],
        &[("OUTPOST__DISPATCH__BATCH_SIZE", "0")],
        "dispatch.batch_size: must be between 1 and 10000",
    );

    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("outpost.toml");
    std::fs::write(
        &file,
        "[dispatch]\nlease = \"10s\"\nsend_timeout = \"30s\"\n",
    )
    .unwrap();
    let config = ["--config", file.to_str().unwrap()];
    config_check_fails(
        &config,
        &[],
        "dispatch.lease: must be longer than dispatch.send_timeout",
    );

    std::fs::write(&file, "[dispatch]\nbatchsize = 5\n").unwrap();
    config_check_fails(&config, &[], "batchsize");

    config_check_fails(
        &[],
        &[("OUTPOST__EMAIL__BACKEND", "pigeon")],
        "email.backend: unknown backend \"pigeon\"",
    );
}

/// Values every message would fail on are refused up front, naming the key.
#[test]
fn config_check_refuses_addresses_numbers_and_urls_no_message_could_use() {
    for (key, value, expected) in [
        (
            "OUTPOST__EMAIL__FROM",
            "123",
            "email.from: not an e-mail address",
        ),
        (
            "DEFAULT_FROM_EMAIL",
            "Outpost",
            "email.from: not an e-mail address",
        ),
        ("OUTPOST__TWILIO__FROM", "15005550006", "twilio.from: "),
        ("OUTPOST__TWILIO__FROM", "+11234567890", "twilio.from: "),
        ("OUTPOST__TWILIO__FROM", "nan", "twilio.from: "),
        (
            "OUTPOST__TWILIO__BASE_URL",
            "api.twilio.com",
            "twilio.base_url: ",
        ),
        (
            "OUTPOST__TWILIO__PUBLIC_URL",
            "notify.example.com",
            "twilio.public_url: ",
        ),
        (
            "OUTPOST__TWILIO__PUBLIC_URL",
            "https://",
            "twilio.public_url: ",
        ),
        (
            "OUTPOST__EMAIL__SENDGRID__BASE_URL",
            "1e3",
            "email.sendgrid.base_url: ",
        ),
        (
            "OUTPOST__PUSH__BASE_URL",
            "ftp://go.urbanairship.com",
            "push.base_url: ",
        ),
    ] {
        config_check_fails(&[], &[(key, value)], expected);
    }
    // The same keys with usable values pass, written as they were.
    let out = outpost()
        .args(["config", "check"])
        .env("OUTPOST__EMAIL__FROM", "MEG <noreply@meg.test>")
        .env("OUTPOST__TWILIO__FROM", "+353861234567")
        .env("OUTPOST__TWILIO__PUBLIC_URL", "https://notify.example.com/")
        .output()
        .unwrap();
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stderr}");
    assert!(stdout.contains("from = \"+353861234567\""), "{stdout}");
}

#[tokio::test]
async fn send_then_status_shows_the_message_and_its_attempts() {
    let db = TestDb::new().await;
    let send = [
        "send",
        "--kind",
        "sms",
        "--to",
        "+353861234567",
        "--body",
        "Audit due",
        "--idempotency-key",
        "k1",
    ];
    let out = outpost()
        .args(send)
        .env("DATABASE_URL", &db.url)
        .output()
        .unwrap();
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stderr}");
    let id: i64 = stdout.trim().parse().unwrap();
    let again = outpost()
        .args(send)
        .env("DATABASE_URL", &db.url)
        .output()
        .unwrap();
    assert_eq!(text(&again).0.trim(), id.to_string());

    let bad = outpost()
        .args(["send", "--kind", "sms", "--to", "+1", "--context", "[1]"])
        .env("DATABASE_URL", &db.url)
        .output()
        .unwrap();
    assert!(!bad.status.success());
    assert!(text(&bad).1.contains("--context must be a JSON object"));

    let config = db.config(&[]);
    let templates =
        std::sync::Arc::new(outpost::render::Templates::load(&config.template_source()).unwrap());
    let channels = outpost::daemon::build_channels(&config, templates).unwrap();
    let d = db.dispatcher(&config, channels, "cli-test");
    assert_eq!(d.drain().await.unwrap(), 1);

    let out = outpost()
        .args(["status", &id.to_string()])
        .env("DATABASE_URL", &db.url)
        .output()
        .unwrap();
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stderr}");
    assert!(
        stdout.contains(&format!("message {id}  kind sms  status sent")),
        "{stdout}"
    );
    assert!(
        stdout.contains("attempt 1  sent  via console  by cli-test"),
        "{stdout}"
    );

    let out = outpost()
        .args(["status"])
        .env("DATABASE_URL", &db.url)
        .output()
        .unwrap();
    let stdout = text(&out).0;
    assert!(
        stdout
            .lines()
            .any(|l| l.split_whitespace().collect::<Vec<_>>() == ["sms", "sent", "1"]),
        "{stdout}"
    );
    assert!(stdout.contains("no due queued messages"), "{stdout}");

    let out = outpost()
        .args(["status", "999999"])
        .env("DATABASE_URL", &db.url)
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(text(&out).1.contains("no message with id 999999"));
}

#[tokio::test]
async fn run_delivers_to_the_console_and_exits_0_on_sigterm() {
    let db = TestDb::new().await;
    let client = db.client().await;
    let id = db.email(&client, "ann@example.com").await;
    let mut child = Guard(
        outpost()
            .arg("run")
            .env("DATABASE_URL", &db.url)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let stdout = lines(child.0.stdout.take().unwrap());
    let seen = read_until(&stdout, |l| l.starts_with("-----") && l.len() == 72);
    let seen = seen + &read_until(&stdout, |l| l.starts_with("-----") && l.len() == 72);
    assert!(seen.contains(&format!("Outpost-Id: {id}")), "{seen}");
    assert!(seen.contains("Subject: Hello"), "{seen}");
    assert!(seen.contains("To: ann@example.com"), "{seen}");
    assert!(
        seen.contains(&format!("Message-ID: <outpost.{id}@localhost>")),
        "{seen}"
    );
    assert!(
        seen.contains("Content-Type: multipart/alternative"),
        "{seen}"
    );
    assert!(seen.contains("\nBody\n"), "{seen}");
    signal(&child.0, "-TERM");
    let status = wait_exit(&mut child.0, Duration::from_secs(20));
    assert!(status.success(), "{status:?}");
    assert_eq!(common::row(&client, id).await.0, "sent");
}

/// Logs written to a pipe (a file, the journal) carry no ANSI colour codes.
#[tokio::test]
async fn logs_to_a_pipe_have_no_colour_codes() {
    let db = TestDb::new().await;
    let mut child = Guard(
        outpost()
            .arg("run")
            .env("DATABASE_URL", &db.url)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap(),
    );
    let stderr = lines(child.0.stderr.take().unwrap());
    let seen = read_until(&stderr, |l| l.contains("listening for new messages"));
    signal(&child.0, "-TERM");
    wait_exit(&mut child.0, Duration::from_secs(20));
    assert!(seen.contains(" INFO "), "{seen}");
    assert!(!seen.contains('\u{1b}'), "{seen:?}");
}

#[tokio::test]
async fn run_refuses_an_unmigrated_database() {
    let db = TestDb::new().await;
    db.client()
        .await
        .batch_execute("DROP SCHEMA outpost CASCADE")
        .await
        .unwrap();
    let out = outpost()
        .arg("run")
        .env("DATABASE_URL", &db.url)
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(
        text(&out).1.contains("run `outpost migrate` first"),
        "{}",
        text(&out).1
    );
    let out = outpost()
        .arg("migrate")
        .env("DATABASE_URL", &db.url)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out).1);
    assert!(text(&out).1.contains("applied migrations: 0001, 0002"));
}

#[test]
fn dev_runs_on_its_own_postgres_and_stops_it_on_ctrl_c() {
    if outpost::cluster::find_bindir().is_none() {
        panic!("this test needs PostgreSQL's initdb and pg_ctl installed");
    }
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("dev-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let mut child = Guard(
        outpost()
            .args(["dev", "--dir", dir.to_str().unwrap()])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap(),
    );
    let stderr = lines(child.0.stderr.take().unwrap());
    let banner = read_until(&stderr, |l| l.contains("psql '"));
    let line = banner.lines().find(|l| l.contains("psql '")).unwrap();
    let rest = &line[line.find("psql '").unwrap() + 6..];
    let url = rest[..rest.find('\'').unwrap()].to_owned();
    let out = Command::new("psql")
        .args([
            &url,
            "-Atc",
            "SELECT outpost.send_simple_mail('Hello', 'It works.', to_address => 'you@example.com')",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let id = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    let stdout = lines(child.0.stdout.take().unwrap());
    let seen = read_until(&stdout, |l| l.contains("It works."));
    assert!(
        seen.contains("To: you@example.com") && seen.contains("Subject: Hello"),
        "{seen}"
    );
    // The banner's status command works as printed (`cargo run --` runs this binary).
    let banner = banner + &read_until(&stderr, |l| l.contains("cargo run -- status"));
    let command = banner
        .lines()
        .find(|l| l.contains("cargo run -- status <id>"))
        .unwrap()
        .trim();
    let (env, args) = command.split_once(" cargo run -- ").unwrap();
    let status_url = env
        .strip_prefix("DATABASE_URL='")
        .and_then(|u| u.strip_suffix('\''))
        .unwrap_or_else(|| panic!("{command}"));
    assert_eq!(status_url, url);
    let args: Vec<String> = args
        .replace("<id>", &id)
        .split(' ')
        .map(str::to_owned)
        .collect();
    let report = outpost()
        .args(&args)
        .env("DATABASE_URL", status_url)
        .output()
        .unwrap();
    assert!(report.status.success(), "{}", text(&report).1);
    assert!(text(&report).0.contains("sent"), "{}", text(&report).0);
    signal(&child.0, "-INT");
    let status = wait_exit(&mut child.0, Duration::from_secs(30));
    assert!(status.success(), "{status:?}");
    // A second run keeps the port (saved psql commands keep working).
    let mut again = Guard(
        outpost()
            .args(["dev", "--dir", dir.to_str().unwrap()])
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap(),
    );
    let stderr2 = lines(again.0.stderr.take().unwrap());
    let banner2 = read_until(&stderr2, |l| l.contains("psql '"));
    assert!(banner2.contains(&format!("psql '{url}'")), "{banner2}");
    read_until(&stderr2, |l| l.contains("listening for new messages"));
    signal(&again.0, "-INT");
    assert!(wait_exit(&mut again.0, Duration::from_secs(30)).success());
    // The cluster was stopped with it.
    let after = Command::new("psql")
        .args([&url, "-Atc", "SELECT 1"])
        .output()
        .unwrap();
    assert!(!after.status.success(), "the dev database is still running");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn the_original_systems_environment_names_configure_email() {
    let out = outpost()
        .args(["config", "check"])
        .env(
            "EMAIL_BACKEND",
            "django.core.mail.backends.smtp.EmailBackend",
        )
        .env("EMAIL_HOST", "smtp.megit.com")
        .env("EMAIL_PORT", "465")
        .env("EMAIL_HOST_USER", "noreply@megit.com")
        .env("EMAIL_HOST_PASSWORD", "p4ssw0rd-original")
        .env("EMAIL_USE_TLS", "False")
        .env("EMAIL_USE_SSL", "True")
        .env("EMAIL_TIMEOUT", "60")
        .env("DEFAULT_FROM_EMAIL", "MEG <noreply@megit.com>")
        .output()
        .unwrap();
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stderr}");
    for expected in [
        "backend = \"smtp\"",
        "host = \"smtp.megit.com\"",
        "port = 465",
        "username = \"noreply@megit.com\"",
        "password = \"[redacted]\"",
        "use_tls = false",
        "use_ssl = true",
        "timeout = \"1m\"",
        "from = \"MEG <noreply@megit.com>\"",
    ] {
        assert!(
            stdout.contains(expected),
            "missing {expected} in:\n{stdout}"
        );
    }
    assert!(!stdout.contains("p4ssw0rd-original") && !stderr.contains("p4ssw0rd-original"));

    for (path, backend) in outpost::config::LEGACY_EMAIL_BACKENDS {
        let mut cmd = outpost();
        cmd.args(["config", "check"]).env("EMAIL_BACKEND", path);
        if *backend == "sendgrid" {
            cmd.env("SENDGRID_API_KEY", "SG.original-key");
        }
        let out = cmd.output().unwrap();
        let (stdout, stderr) = text(&out);
        assert!(out.status.success(), "{path}: {stderr}");
        assert!(
            stdout.contains(&format!("backend = \"{backend}\"")),
            "{path}: {stdout}"
        );
        assert!(!stdout.contains("SG.original-key"));
    }

    config_check_fails(
        &[],
        &[("EMAIL_USE_TLS", "True"), ("EMAIL_USE_SSL", "True")],
        "email.smtp.use_tls: use_tls (STARTTLS) and use_ssl (implicit TLS) are mutually exclusive",
    );

    config_check_fails(
        &[],
        &[("EMAIL_BACKEND", "sendgrid_backend.SendgridBackend")],
        "email.sendgrid.api_key: required",
    );
}

#[test]
fn templates_check_exits_non_zero_on_a_broken_template() {
    let dir = tempfile::tempdir().unwrap();
    let templates = dir.path().join("templates");
    std::fs::create_dir(&templates).unwrap();
    std::fs::write(templates.join("ok.txt"), "fine").unwrap();
    let ok = outpost()
        .args(["templates", "check"])
        .env("OUTPOST__TEMPLATES__DIR", &templates)
        .env(
            "OUTPOST__LOCALE__DIR",
            concat!(env!("CARGO_MANIFEST_DIR"), "/locale"),
        )
        .output()
        .unwrap();
    assert!(ok.status.success(), "{}", text(&ok).1);
    std::fs::write(templates.join("bad.txt"), "one\ntwo {{ broken(").unwrap();
    let bad = outpost()
        .args(["templates", "check"])
        .env("OUTPOST__TEMPLATES__DIR", &templates)
        .env(
            "OUTPOST__LOCALE__DIR",
            concat!(env!("CARGO_MANIFEST_DIR"), "/locale"),
        )
        .output()
        .unwrap();
    assert!(!bad.status.success());
    assert!(text(&bad).0.contains("bad.txt:2"), "{}", text(&bad).0);
}

#[tokio::test]
async fn sighup_reloads_templates_without_a_restart() {
    let db = TestDb::new().await;
    let client = db.client().await;
    let dir = tempfile::tempdir().unwrap();
    let templates = dir.path().join("templates");
    std::fs::create_dir(&templates).unwrap();
    for (file, text) in [
        ("note.subject.txt", "Note"),
        ("note.txt", "version one"),
        ("note.html", "<p>v1</p>"),
    ] {
        std::fs::write(templates.join(file), text).unwrap();
    }
    let enqueue_note = || async {
        client
            .query_one(
                "SELECT outpost.send_mail_template('note', to_address => 'ann@example.com')",
                &[],
            )
            .await
            .unwrap()
            .get::<_, i64>(0)
    };
    enqueue_note().await;
    let mut child = Guard(
        outpost()
            .arg("run")
            .env("DATABASE_URL", &db.url)
            .env("OUTPOST__TEMPLATES__DIR", &templates)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let stdout = lines(child.0.stdout.take().unwrap());
    read_until(&stdout, |l| l.contains("version one"));
    std::fs::write(templates.join("note.txt"), "version two").unwrap();
    signal(&child.0, "-HUP");
    // The reload is asynchronous: send until the new text shows (bounded).
    let mut seen = String::new();
    for _ in 0..20 {
        enqueue_note().await;
        seen = read_until(&stdout, |l| {
            l.contains("version one") || l.contains("version two")
        });
        if seen.contains("version two") {
            break;
        }
    }
    assert!(seen.contains("version two"), "{seen}");
    signal(&child.0, "-TERM");
    assert!(wait_exit(&mut child.0, Duration::from_secs(20)).success());
}

#[tokio::test]
async fn json_logs_carry_a_span_per_message_and_no_bodies_at_info() {
    let db = TestDb::new().await;
    let client = db.client().await;
    let sent = db.email(&client, "ann@example.com").await;
    client
        .execute(
            "UPDATE outpost.messages SET body = 'CONFIDENTIAL-BODY' WHERE id = $1",
            &[&sent.0],
        )
        .await
        .unwrap();
    let failed: i64 = common::scalar(&client, "SELECT outpost.send_sms('CONFIDENTIAL-SMS', to_address => '+353861234567', provider => 'nope')", &[]).await;
    let mut child = Guard(
        outpost()
            .arg("run")
            .env("DATABASE_URL", &db.url)
            .env("OUTPOST__LOG__FORMAT", "json")
            .env("RUST_LOG", "outpost=debug,info")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap(),
    );
    let stderr = lines(child.0.stderr.take().unwrap());
    let mut seen = String::new();
    while !(seen.contains("\"sent\"") && seen.contains("attempt failed")) {
        seen.push_str(&read_until(&stderr, |l| {
            l.contains("\"sent\"") || l.contains("attempt failed")
        }));
    }
    signal(&child.0, "-TERM");
    wait_exit(&mut child.0, Duration::from_secs(20));
    let events: Vec<serde_json::Value> = seen
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect();
    let sent_line = events
        .iter()
        .find(|e| e["fields"]["message"] == "sent")
        .unwrap_or_else(|| panic!("{seen}"));
    assert_eq!(sent_line["span"]["id"], sent.0);
    assert_eq!(sent_line["span"]["kind"], "email");
    assert_eq!(sent_line["span"]["attempt"], 1);
    assert_eq!(sent_line["span"]["provider"], "console");
    let failed_line = events
        .iter()
        .find(|e| e["fields"]["message"] == "attempt failed")
        .unwrap();
    assert_eq!(failed_line["level"], "INFO");
    assert_eq!(failed_line["span"]["id"], failed);
    assert_eq!(failed_line["span"]["kind"], "sms");
    for e in events
        .iter()
        .filter(|e| e["level"] == "INFO" || e["level"] == "WARN" || e["level"] == "ERROR")
    {
        let text = e.to_string();
        assert!(
            !text.contains("CONFIDENTIAL"),
            "a body reached the logs: {text}"
        );
    }
}

/// `outpost migrate` and `outpost run` over two databases (`[database]
/// urls`) name each in what they print: migrate per database, the daemon's
/// start line, and every line a database's own tasks log.
#[tokio::test]
async fn run_over_two_databases_names_each_in_its_logs() {
    let dbs = [TestDb::new().await, TestDb::new().await];
    let urls = format!("{} {}", dbs[0].url, dbs[1].url);
    let migrated = outpost()
        .arg("migrate")
        .env("OUTPOST__DATABASE__URLS", &urls)
        .output()
        .unwrap();
    let (_, err) = text(&migrated);
    assert!(migrated.status.success(), "{err}");
    for db in &dbs {
        assert!(
            err.contains(&format!("{}: schema is current", db.name)),
            "{err}"
        );
    }
    let mut child = Guard(
        outpost()
            .arg("run")
            .env("OUTPOST__DATABASE__URLS", &urls)
            .env("OUTPOST__LOG__LEVEL", "info")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap(),
    );
    let stderr = lines(child.0.stderr.take().unwrap());
    let listening = std::cell::Cell::new(0);
    let seen = read_until(&stderr, |l| {
        if l.contains("listening for new messages") {
            listening.set(listening.get() + 1);
        }
        listening.get() == 2
    });
    signal(&child.0, "-TERM");
    wait_exit(&mut child.0, Duration::from_secs(20));
    let started = seen
        .lines()
        .find(|l| l.contains("outpost dispatcher started"))
        .unwrap_or_else(|| panic!("{seen}"));
    assert!(
        started.contains(&format!("databases={}, {}", dbs[0].name, dbs[1].name)),
        "{started}"
    );
    for db in &dbs {
        let named = format!("database={}", db.name);
        assert!(
            seen.lines()
                .any(|l| l.contains("listening for new messages") && l.contains(&named)),
            "no LISTEN line names {named}:\n{seen}"
        );
    }
}
