//! Behind PgBouncer 1.18 in transaction pooling mode (a real `pgbouncer`
//! started per test, a small server pool so clients share server
//! connections): every SQL helper an application may call answers through
//! it, `outpost migrate` applies the schema through it, and the real daemon
//! delivers through it, every message once, with LISTEN on a direct
//! `database.listen_url` or, without one, polling and saying so at start.

use crate::common;

use std::time::{Duration, Instant};

use common::TestDb;
use common::pgbouncer;
use tokio_postgres::SimpleQueryMessage;

pub(super) async fn connect(url: &str) -> tokio_postgres::Client {
    let config: tokio_postgres::Config = url.parse().unwrap();
    let (client, connection) = config.connect(tokio_postgres::NoTls).await.unwrap();
    tokio::spawn(connection);
    client
}

/// The first column of the first row of `sql`, run as psql runs it (the
/// simple protocol, one implicit transaction), as text.
pub(super) async fn first(client: &tokio_postgres::Client, sql: &str) -> Option<String> {
    let messages = client
        .simple_query(sql)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e:?}"));
    messages.iter().find_map(|m| match m {
        SimpleQueryMessage::Row(row) => Some(row.get(0).map(str::to_owned)),
        _ => None,
    })?
}

mod helpers;

/// `outpost migrate` through PgBouncer applies every migration to an empty
/// database: its lock is a transaction lock and it prepares nothing across
/// transactions.
#[tokio::test]
async fn migrate_through_pgbouncer_applies_the_schema() {
    let db = TestDb::new().await;
    let direct = db.client().await;
    direct
        .batch_execute("DROP SCHEMA outpost CASCADE")
        .await
        .unwrap();
    let bouncer = pgbouncer::start(&db, 2).await;
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_outpost"))
        .arg("migrate")
        .env("DATABASE_URL", &bouncer.url)
        .env("OUTPOST__DATABASE__POOLER", "transaction")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.contains("applied migrations"), "{stderr}");
    assert!(
        outpost::db::migrate::pending(&direct)
            .await
            .unwrap()
            .is_empty()
    );
}

/// Enqueues `n` e-mails through the pooler, one helper call (one
/// transaction) each; returns their ids.
async fn enqueue_through(url: &str, n: usize) -> Vec<i64> {
    let client = connect(url).await;
    let mut ids = Vec::with_capacity(n);
    for i in 0..n {
        let id = first(
            &client,
            &format!(
                "SELECT outpost.send_simple_mail('Hi', 'B', '[]', to_address => 'u{i}@example.com')"
            ),
        )
        .await
        .unwrap();
        ids.push(id.parse().unwrap());
    }
    ids
}

/// Runs the daemon through PgBouncer with `extra` settings until `ids` are
/// all sent; asserts each reached the provider once; returns the daemon's
/// log and how long delivery took.
async fn deliver_through(
    db: &TestDb,
    extra: &[(&str, &str)],
    batches: usize,
) -> (String, Duration) {
    let bouncer = pgbouncer::start(db, 4).await;
    let provider = common::fake::sendgrid(Duration::from_millis(1)).await;
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("outpost.log");
    let mut env: Vec<(String, String)> = vec![
        ("OUTPOST__DATABASE__POOLER".into(), "transaction".into()),
        ("OUTPOST__EMAIL__BACKEND".into(), "sendgrid".into()),
        ("OUTPOST__EMAIL__SENDGRID__API_KEY".into(), "SG.test".into()),
        (
            "OUTPOST__EMAIL__SENDGRID__BASE_URL".into(),
            provider.uri.clone(),
        ),
        (
            "OUTPOST__EMAIL__FROM".into(),
            "Tests <tests@example.com>".into(),
        ),
        ("OUTPOST__HTTP__ENABLED".into(), "false".into()),
        ("OUTPOST__DISPATCH__POLL_INTERVAL".into(), "1s".into()),
        ("OUTPOST__LOG__LEVEL".into(), "info".into()),
    ];
    env.extend(
        extra
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned())),
    );
    let daemon = common::daemon::start_logged(&bouncer.url, &env, &log);
    let direct = db.client().await;
    let started = Instant::now();
    let mut ids = Vec::new();
    for _ in 0..batches {
        ids.extend(enqueue_through(&bouncer.url, 50).await);
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    common::daemon::settled(&direct, &ids).await;
    let took = started.elapsed();
    drop(daemon);
    let sent = common::count(
        &direct,
        "SELECT count(*) FROM outpost.messages WHERE status = 'sent'",
    )
    .await;
    let text = std::fs::read_to_string(&log).unwrap();
    assert_eq!(sent as usize, ids.len(), "{text}");
    let seen = provider.seen.lock().unwrap().clone();
    for id in &ids {
        assert_eq!(
            seen.get(id),
            Some(&1),
            "message {id} reached the provider {:?} times",
            seen.get(id)
        );
    }
    assert!(!text.contains("ERROR"), "{text}");
    assert!(!bouncer.log().contains("ERROR"), "{}", bouncer.log());
    (text, took)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn daemon_through_pgbouncer_listens_on_listen_url() {
    let db = TestDb::new().await;
    let (log, took) = deliver_through(
        &db,
        &[
            ("OUTPOST__DATABASE__LISTEN_URL", db.url.as_str()),
            ("OUTPOST__DISPATCH__POLL_INTERVAL", "1h"),
        ],
        4,
    )
    .await;
    // Polling every hour: only LISTEN on the direct connection woke it.
    assert!(log.contains("listening for new messages"), "{log}");
    assert!(log.contains("database.listen_url"), "{log}");
    assert!(took < Duration::from_secs(30), "{took:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn daemon_through_pgbouncer_without_listen_url_polls_and_says_so() {
    let db = TestDb::new().await;
    let (log, _) = deliver_through(&db, &[], 4).await;
    let sentence = "database.pooler is \"transaction\" and database.listen_url is not set, so there \
                    is no LISTEN past the pooler: the dispatcher polls every 1s (dispatch.poll_interval)";
    assert!(log.contains(sentence), "{log}");
    assert_eq!(
        log.matches("database.listen_url is not set").count(),
        1,
        "{log}"
    );
    assert!(!log.contains("listening for new messages"), "{log}");
}
