//! Behind PgBouncer 1.18 in transaction pooling mode (a real `pgbouncer`
//! started per test, a small server pool so clients share server
//! connections): every SQL helper an application may call answers through
//! it, `outpost migrate` applies the schema through it, and the real daemon
//! delivers through it, every message once, with LISTEN on a direct
//! `database.listen_url` or, without one, polling and saying so at start.

use crate::common;

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use common::TestDb;
use common::pgbouncer;
use tokio_postgres::SimpleQueryMessage;

async fn connect(url: &str) -> tokio_postgres::Client {
    let config: tokio_postgres::Config = url.parse().unwrap();
    let (client, connection) = config.connect(tokio_postgres::NoTls).await.unwrap();
    tokio::spawn(connection);
    client
}

/// The first column of the first row of `sql`, run as psql runs it (the
/// simple protocol, one implicit transaction), as text.
async fn first(client: &tokio_postgres::Client, sql: &str) -> Option<String> {
    let messages = client
        .simple_query(sql)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e:?}"));
    messages.iter().find_map(|m| match m {
        SimpleQueryMessage::Row(row) => Some(row.get(0).map(str::to_owned)),
        _ => None,
    })?
}

/// Every function of the outpost schema the application role may execute,
/// with a call that must answer through the pooler; `$MSG`, `$CHAT` and
/// `$CHANNEL` stand for ids made by earlier calls. A function added to the
/// schema without a line here fails the test.
const CALLS: &[(&str, &str)] = &[
    (
        "send_simple_mail",
        "SELECT outpost.send_simple_mail('Hi', 'Body', '[]', to_address => 'a@example.com')",
    ),
    (
        "send_mail_template",
        "SELECT outpost.send_mail_template('welcome', to_address => 'a@example.com', context => '{}')",
    ),
    (
        "enqueue",
        "SELECT outpost.enqueue('email', to_address => 'b@example.com', subject => 'S', body => 'B')",
    ),
    (
        "send_sms",
        "SELECT outpost.send_sms('Text', to_address => '+15005550006')",
    ),
    (
        "make_call",
        "SELECT outpost.make_call('Text', to_address => '+15005550006')",
    ),
    (
        "send_user_push_message",
        "SELECT outpost.send_user_push_message('42', 'Push')",
    ),
    (
        "send_phone_sms",
        "SELECT outpost.send_phone_sms('42', 'Text')",
    ),
    (
        "send_phone_sms_predefined",
        "SELECT outpost.send_phone_sms_predefined('42', 'note', 'welcome')",
    ),
    (
        "send_sms_to_number",
        "SELECT outpost.send_sms_to_number('+15005550006', 'en', 'Text')",
    ),
    (
        "make_phone_call",
        "SELECT outpost.make_phone_call('42', 'welcome')",
    ),
    (
        "send_system_message_template",
        "SELECT outpost.send_system_message_template('42', 'welcome', '{}')",
    ),
    (
        "send_system_message",
        "SELECT outpost.send_system_message('42', 'Hello')",
    ),
    (
        "mirror_to_chat",
        "SELECT outpost.mirror_to_chat('42', 'Subject', 'Body', $MSG)",
    ),
    ("cancel", "SELECT outpost.cancel($MSG)"),
    ("retry", "SELECT outpost.retry($MSG, 1)"),
    (
        "set_preference",
        "SELECT (outpost.set_preference('42', 'news', 'email', false)).enabled",
    ),
    (
        "preferences_for",
        "SELECT count(*) FROM outpost.preferences_for('42')",
    ),
    (
        "preference_block",
        "SELECT coalesce(outpost.preference_block('42', 'news', 'email'), '')",
    ),
    (
        "chat_channels_for",
        "SELECT count(*) FROM outpost.chat_channels_for('42')",
    ),
    (
        "chat_mark_read",
        "SELECT outpost.chat_mark_read($CHANNEL, '42')",
    ),
    (
        "chat_messages_page",
        "SELECT count(*) FROM outpost.chat_messages_page($CHANNEL, NULL, 10)",
    ),
    (
        "chat_alert",
        "SELECT outpost.chat_alert('Alert', 'plaintext')",
    ),
    (
        "caller_tenant",
        "SELECT coalesce(outpost.caller_tenant(), '')",
    ),
    ("is_daemon", "SELECT outpost.is_daemon()"),
    ("reserve_message_id", "SELECT outpost.reserve_message_id()"),
    ("address_family", "SELECT outpost.address_family('email')"),
    (
        "address_list",
        "SELECT outpost.address_list('[\"a@example.com\"]')",
    ),
    (
        "normalize_address",
        "SELECT outpost.normalize_address('A@Example.com')",
    ),
    (
        "with_sender",
        "SELECT outpost.with_sender('{}', '+15005550006')",
    ),
    ("json_bytes", "SELECT outpost.json_bytes('{}')"),
    (
        "digest_window",
        "SELECT coalesce(outpost.digest_window('{}')::text, '')",
    ),
    (
        "digest_window_or_null",
        "SELECT coalesce(outpost.digest_window_or_null('{}')::text, '')",
    ),
    (
        "digest_window_valid",
        "SELECT outpost.digest_window_valid('{}')",
    ),
    ("time_in_range", "SELECT outpost.time_in_range(now())"),
    (
        "message_sendable",
        "SELECT outpost.message_sendable(m) FROM outpost.messages m WHERE id = $MSG",
    ),
    (
        "escalation_kinds",
        "SELECT array_length(outpost.escalation_kinds(), 1)",
    ),
    (
        "escalation_after",
        "SELECT outpost.escalation_after('{\"after\": \"10m\", \"unless\": \"read\", \"then\": {\"kind\": \"sms\", \"body\": \"B\"}}')",
    ),
    (
        "escalation_met",
        "SELECT outpost.escalation_met('read', 'read')",
    ),
];

/// The helpers that return a new row's id: each must answer one.
const RETURNS_AN_ID: &[&str] = &[
    "send_simple_mail",
    "send_mail_template",
    "enqueue",
    "send_sms",
    "make_call",
    "send_user_push_message",
    "send_phone_sms",
    "send_phone_sms_predefined",
    "send_sms_to_number",
    "make_phone_call",
    "send_system_message_template",
    "send_system_message",
    "mirror_to_chat",
    "cancel",
    "retry",
    "reserve_message_id",
];

#[tokio::test]
async fn every_sql_helper_answers_through_pgbouncer_in_transaction_mode() {
    let db = TestDb::new().await;
    let direct = db.client().await;
    direct
        .batch_execute(
            "INSERT INTO outpost.recipients (user_id, email, phone, push_named_user, tenant)
             VALUES ('42', 'u42@example.com', '+15005550006', 'u42', 'h1');
             INSERT INTO outpost.messaging_configs (tenant, enabled) VALUES ('h1', true);",
        )
        .await
        .unwrap();
    let catalog: BTreeSet<String> = direct
        .query(
            "SELECT DISTINCT p.proname::text FROM pg_proc p
             JOIN pg_namespace n ON n.oid = p.pronamespace
             WHERE n.nspname = 'outpost' AND p.prorettype <> 'trigger'::regtype
               AND has_function_privilege('outpost_app', p.oid, 'EXECUTE')",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| r.try_get(0).unwrap())
        .collect();
    let covered: BTreeSet<String> = CALLS.iter().map(|(n, _)| (*n).to_owned()).collect();
    let missing: Vec<_> = catalog.difference(&covered).collect();
    assert!(
        missing.is_empty(),
        "helpers not called through PgBouncer here: {missing:?}"
    );

    // Two server connections for three clients: consecutive calls of one
    // client land on whichever server connection is free.
    let bouncer = pgbouncer::start(&db, 2).await;
    let clients = [
        connect(&bouncer.url).await,
        connect(&bouncer.url).await,
        connect(&bouncer.url).await,
    ];
    let (mut message, mut chat) = (String::new(), String::new());
    for (i, (name, sql)) in CALLS.iter().enumerate() {
        let channel = if chat.is_empty() {
            String::new()
        } else {
            format!("(SELECT channel_id FROM outpost.chat_messages WHERE id = {chat})")
        };
        let sql = sql.replace("$MSG", &message).replace("$CHANNEL", &channel);
        let answer = first(&clients[i % clients.len()], &sql).await;
        if RETURNS_AN_ID.contains(name) {
            let id = answer.unwrap_or_else(|| panic!("{name} answered NULL through PgBouncer"));
            id.parse::<i64>().unwrap();
            match *name {
                "send_simple_mail" => message = id,
                "send_system_message" => chat = id,
                _ => {}
            }
        }
    }
    // What was written through the pooler is there, committed.
    let written = common::count(
        &direct,
        "SELECT count(*) FROM outpost.messages WHERE status IN ('queued', 'cancelled')",
    )
    .await;
    assert!(written >= 11, "{written} messages");
    assert!(!bouncer.log().contains("ERROR"), "{}", bouncer.log());
}

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
