//! Migrations (idempotent, concurrent, tamper-evident) and the schema's
//! contract: constraints, the statement-level NOTIFY trigger, SQL helpers.

use crate::common;

use common::TestDb;
use futures_util::StreamExt;
use outpost::db::migrate::{MIGRATIONS, MigrateError, migrate, pending};
use tokio_postgres::{AsyncMessage, NoTls};

async fn empty_database() -> (TestDb, tokio_postgres::Client) {
    let db = TestDb::new().await;
    let client = db.client().await;
    client
        .batch_execute("DROP SCHEMA outpost CASCADE")
        .await
        .unwrap();
    (db, client)
}

#[tokio::test]
async fn migrate_twice_applies_once() {
    let (db, _) = empty_database().await;
    let mut client = db.client().await;
    assert_eq!(pending(&client).await.unwrap().len(), MIGRATIONS.len());
    let first = migrate(&mut client).await.unwrap();
    assert_eq!(first.len(), MIGRATIONS.len());
    assert!(migrate(&mut client).await.unwrap().is_empty());
    assert!(pending(&client).await.unwrap().is_empty());
    let n: i64 = common::scalar(
        &client,
        "SELECT count(*) FROM outpost.schema_migrations WHERE length(checksum) = 64",
        &[],
    )
    .await;
    assert_eq!(n as usize, MIGRATIONS.len());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_migrations_are_safe() {
    let (db, _) = empty_database().await;
    let mut handles = Vec::new();
    for _ in 0..4 {
        let url = db.url.clone();
        handles.push(tokio::spawn(async move {
            let mut client = outpost::db::connect(&url).await.unwrap();
            migrate(&mut client).await.unwrap().len()
        }));
    }
    let mut applied = Vec::new();
    for h in handles {
        applied.push(h.await.unwrap());
    }
    applied.sort();
    assert_eq!(
        applied,
        vec![0, 0, 0, MIGRATIONS.len()],
        "exactly one process applied them"
    );
}

#[tokio::test]
async fn a_changed_applied_migration_is_refused() {
    let db = TestDb::new().await;
    let mut client = db.client().await;
    client
        .execute(
            "UPDATE outpost.schema_migrations SET checksum = 'feed' WHERE version = '0001'",
            &[],
        )
        .await
        .unwrap();
    let err = migrate(&mut client).await.unwrap_err();
    assert!(matches!(err, MigrateError::Changed { .. }), "{err:?}");
    let text = err.to_string();
    assert!(
        text.contains("0001_outbox was changed after it was applied"),
        "{text}"
    );
    assert!(pending(&client).await.is_err());

    client
        .execute("INSERT INTO outpost.schema_migrations (version, name, checksum) VALUES ('9999', 'future', 'x')", &[])
        .await
        .unwrap();
    client
        .execute(
            "UPDATE outpost.schema_migrations SET checksum = $1 WHERE version = '0001'",
            &[&MIGRATIONS[0].checksum()],
        )
        .await
        .unwrap();
    let err = migrate(&mut client).await.unwrap_err();
    assert!(
        err.to_string()
            .contains("migration 9999 which this binary does not know"),
        "{err}"
    );
}

#[tokio::test]
async fn constraints_reject_bad_rows_with_named_checks() {
    let db = TestDb::new().await;
    let client = db.client().await;
    let cases = [
        (
            "INSERT INTO outpost.messages (kind, to_address) VALUES ('fax', 'x')",
            "messages_kind_check",
        ),
        (
            "INSERT INTO outpost.messages (kind) VALUES ('email')",
            "messages_recipient_check",
        ),
        (
            "INSERT INTO outpost.messages (kind, to_user) VALUES ('email', '  ')",
            "messages_recipient_check",
        ),
        (
            "INSERT INTO outpost.messages (kind, to_address, max_attempts) VALUES ('email', 'a@b', 0)",
            "messages_max_attempts_check",
        ),
        (
            "INSERT INTO outpost.messages (kind, to_address, status) VALUES ('email', 'a@b', 'lost')",
            "messages_status_check",
        ),
        (
            "INSERT INTO outpost.messages (kind, to_address, context) VALUES ('email', 'a@b', '[1]')",
            "messages_context_object_check",
        ),
    ];
    for (sql, constraint) in cases {
        let err = client.execute(sql, &[]).await.unwrap_err();
        let db_err = err.as_db_error().expect("a database error");
        assert_eq!(db_err.constraint(), Some(constraint), "{sql}");
    }
    let n: i64 = common::scalar(&client, "SELECT count(*) FROM outpost.messages", &[]).await;
    assert_eq!(n, 0);
}

#[tokio::test]
async fn one_notify_per_insert_statement() {
    let db = TestDb::new().await;
    let (listener, mut connection) = db
        .url
        .parse::<tokio_postgres::Config>()
        .unwrap()
        .connect(NoTls)
        .await
        .unwrap();
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    tokio::spawn(async move {
        let mut stream = futures_util::stream::poll_fn(move |cx| connection.poll_message(cx));
        while let Some(Ok(m)) = stream.next().await {
            if let AsyncMessage::Notification(n) = m {
                let _ = tx.send(n.channel().to_owned());
            }
        }
    });
    listener
        .batch_execute("LISTEN outpost_messages")
        .await
        .unwrap();
    let client = db.client().await;
    // Two statements in autocommit, 100 rows each: two notifications.
    for _ in 0..2 {
        client
            .execute(
                "INSERT INTO outpost.messages (kind, to_address) SELECT 'email', 'a@b' FROM generate_series(1, 100)",
                &[],
            )
            .await
            .unwrap();
    }
    let mut got = Vec::new();
    while let Ok(Some(ch)) =
        tokio::time::timeout(std::time::Duration::from_millis(500), rx.recv()).await
    {
        got.push(ch);
    }
    assert_eq!(got, vec!["outpost_messages", "outpost_messages"]);
    // And the trigger is declared FOR EACH STATEMENT (tgtype bit 0 clear).
    let row_level: i32 = common::scalar(
        &client,
        "SELECT (tgtype & 1)::int FROM pg_trigger WHERE tgname = 'messages_notify'",
        &[],
    )
    .await;
    assert_eq!(row_level, 0);
}

#[tokio::test]
async fn sql_helpers_insert_the_right_kinds() {
    let db = TestDb::new().await;
    let client = db.client().await;
    let ids: Vec<i64> = client
        .query_one(
            "SELECT outpost.send_mail_template('welcome', to_user => '42', context => '{\"name\": \"Ann\"}', locale => 'ro'),
                    outpost.send_simple_mail('Report ready', 'See below.', '[{\"label\": \"Open\", \"url\": \"https://x.test/r/1\"}]', to_address => 'a@example.com'),
                    outpost.send_sms('Your code is 1234', to_address => '+353861234567', sender => '+15005550006'),
                    outpost.make_call('Audit due', to_user => '42', locale => 'de'),
                    outpost.send_user_push_message('42', 'New message', options => '{\"title\": \"MEG\"}')",
            &[],
        )
        .await
        .map(|r| (0..5).map(|i| r.get(i)).collect())
        .unwrap();
    let rows = client
        .query(
            "SELECT kind, to_user, to_address, template, context, locale, subject, body, options
             FROM outpost.messages WHERE id = ANY($1) ORDER BY id",
            &[&ids],
        )
        .await
        .unwrap();
    let kinds: Vec<String> = rows.iter().map(|r| r.get(0)).collect();
    assert_eq!(kinds, ["email", "email", "sms", "voice", "push"]);
    assert_eq!(
        rows[0].get::<_, Option<String>>(3).as_deref(),
        Some("welcome")
    );
    assert_eq!(rows[0].get::<_, serde_json::Value>(4)["name"], "Ann");
    assert_eq!(
        rows[1].get::<_, serde_json::Value>(8)["links"][0]["url"],
        "https://x.test/r/1"
    );
    assert_eq!(
        rows[2].get::<_, serde_json::Value>(8)["from"],
        "+15005550006"
    );
    assert_eq!(rows[3].get::<_, Option<String>>(5).as_deref(), Some("de"));
    assert_eq!(rows[4].get::<_, Option<String>>(1).as_deref(), Some("42"));
    assert_eq!(
        rows[4].get::<_, Option<String>>(7).as_deref(),
        Some("New message")
    );
}

#[tokio::test]
async fn deleting_or_truncating_messages_removes_their_attempts() {
    let db = TestDb::new().await;
    let client = db.client().await;
    client
        .batch_execute(
            "INSERT INTO outpost.messages (kind, to_address, body)
             SELECT 'sms', '+4070000000' || g, 'x' FROM generate_series(1, 3) g;
             INSERT INTO outpost.attempts (message_id, attempt, worker, started_at, outcome)
             SELECT id, a, 'w', now(), 'retry' FROM outpost.messages, generate_series(1, 2) a;",
        )
        .await
        .unwrap();
    let count = |sql: &'static str| {
        let client = &client;
        async move { client.query_one(sql, &[]).await.unwrap().get::<_, i64>(0) }
    };
    assert_eq!(count("SELECT count(*) FROM outpost.attempts").await, 6);
    client
        .execute(
            "DELETE FROM outpost.messages WHERE id = (SELECT min(id) FROM outpost.messages)",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(count("SELECT count(*) FROM outpost.attempts").await, 4);
    assert_eq!(
        count(
            "SELECT count(*) FROM outpost.attempts a
             WHERE NOT EXISTS (SELECT 1 FROM outpost.messages m WHERE m.id = a.message_id)"
        )
        .await,
        0,
        "the remaining attempts belong to remaining messages"
    );
    client
        .batch_execute("TRUNCATE outpost.messages CASCADE")
        .await
        .unwrap();
    assert_eq!(count("SELECT count(*) FROM outpost.attempts").await, 0);
}

/// Run in a child process by `test_databases_are_dropped_when_the_binary_exits`.
#[tokio::test]
#[ignore = "run by test_databases_are_dropped_when_the_binary_exits"]
async fn creates_a_database_and_exits() {
    let db = TestDb::new().await;
    let _client = db.client().await;
    if let Some(path) = std::env::var_os("OUTPOST_TEST_CLEANUP_FILE") {
        std::fs::write(path, &db.name).unwrap();
    }
}

/// A test binary drops the databases it created when it exits, instead of
/// leaving them on the server until the next run.
#[tokio::test]
async fn test_databases_are_dropped_when_the_binary_exits() {
    let server = common::server_url().await;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("name");
    let started = std::time::Instant::now();
    let status = std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "--ignored",
            "--exact",
            "schema::creates_a_database_and_exits",
        ])
        .env("DATABASE_URL", &server)
        .env("OUTPOST_TEST_CLEANUP_FILE", &file)
        .stdout(std::process::Stdio::null())
        .status()
        .unwrap();
    assert!(status.success());
    let name = std::fs::read_to_string(&file).unwrap();
    assert!(name.starts_with("outpost_t_"), "{name}");
    let admin = outpost::db::connect(&server).await.unwrap();
    let left = admin
        .query_opt("SELECT 1 FROM pg_database WHERE datname = $1", &[&name])
        .await
        .unwrap();
    assert!(left.is_none(), "{name} is still on the server");
    eprintln!(
        "child test binary with one database: {:?}",
        started.elapsed()
    );
}

/// `outpost.retry` keeps a run_at in the future (a message scheduled for
/// tomorrow and cancelled is retried for tomorrow), and a past one becomes
/// now; it still runs with the owner's rights.
#[tokio::test]
async fn retry_keeps_a_future_run_at() {
    let db = TestDb::new().await;
    let client = db.client().await;
    let ids: Vec<i64> = client
        .query(
            "INSERT INTO outpost.messages (kind, to_address, subject, body, run_at, status)
             VALUES ('email', 'a@example.com', 's', 'b', now() + interval '1 day', 'cancelled'),
                    ('email', 'b@example.com', 's', 'b', now() - interval '1 day', 'failed')
             RETURNING id",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    for id in &ids {
        let r = client
            .query_one("SELECT outpost.retry($1)", &[id])
            .await
            .unwrap();
        assert_eq!(r.get::<_, Option<i64>>(0), Some(*id));
    }
    let rows = client
        .query(
            "SELECT status, run_at > now() + interval '23 hours', run_at <= now()
             FROM outpost.messages WHERE id = ANY($1) ORDER BY id",
            &[&ids],
        )
        .await
        .unwrap();
    let got: Vec<(String, bool, bool)> = rows
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2)))
        .collect();
    assert_eq!(
        got,
        vec![
            ("queued".into(), true, false),
            ("queued".into(), false, true)
        ]
    );
    let definer: bool = common::scalar(
        &client,
        "SELECT prosecdef FROM pg_proc WHERE oid = 'outpost.retry(bigint, int, name)'::regprocedure",
        &[],
    )
    .await;
    assert!(definer, "retry keeps SECURITY DEFINER");
}

/// 0016: recipient, address and tenant live in outpost.message_keys, written
/// when a message is inserted (by a helper, a plain INSERT or COPY), kept in
/// step when an application changes them, removed with the message; the
/// migration copies the keys of existing messages; and no index of
/// `messages` covers them any more, so the claim's and the outcome's updates
/// of a message write no entry for them.
#[tokio::test]
async fn search_keys_follow_messages_and_the_migration_moves_existing_rows() {
    use futures_util::SinkExt;
    let (_db, client) = empty_database().await;
    let at = MIGRATIONS.iter().position(|m| m.version == "0016").unwrap();
    client.batch_execute("CREATE SCHEMA outpost").await.unwrap();
    for m in &MIGRATIONS[..at] {
        client.batch_execute(m.sql).await.unwrap();
    }
    client
        .batch_execute(
            "INSERT INTO outpost.messages (kind, to_user, to_address, tenant, body)
             VALUES ('sms', '7', '+40700000001', 'h1', 'old'), ('chat', '8', NULL, NULL, 'old');",
        )
        .await
        .unwrap();
    for m in &MIGRATIONS[at..] {
        client.batch_execute(m.sql).await.unwrap();
    }
    type Keys = (String, Option<String>, Option<String>, Option<String>);
    let keys = async || -> Vec<Keys> {
        client
            .query(
                "SELECT m.body, k.to_user, k.to_address, k.tenant
                 FROM outpost.messages m
                 LEFT JOIN outpost.message_keys k ON k.message_id = m.id
                 ORDER BY m.id",
                &[],
            )
            .await
            .unwrap()
            .iter()
            .map(|r| (r.get(0), r.get(1), r.get(2), r.get(3)))
            .collect()
    };
    let s = |v: &str| Some(v.to_owned());
    assert_eq!(
        keys().await,
        vec![
            ("old".into(), s("7"), s("+40700000001"), s("h1")),
            ("old".into(), s("8"), None, None),
        ],
        "the migration copies the keys of existing messages"
    );

    client
        .batch_execute(
            "SELECT outpost.send_sms('helper', to_address => '+40700000002', tenant => 'h2');
             INSERT INTO outpost.messages (kind, to_address, body) VALUES ('email', 'a@example.com', 'insert');",
        )
        .await
        .unwrap();
    let sink = client
        .copy_in("COPY outpost.messages (kind, to_address, body) FROM STDIN")
        .await
        .unwrap();
    futures_util::pin_mut!(sink);
    sink.send(&b"email\tb@example.com\tcopy\n"[..])
        .await
        .unwrap();
    sink.finish().await.unwrap();
    client
        .batch_execute(
            "UPDATE outpost.messages SET tenant = 'h9', to_address = '+40700000003' WHERE body = 'helper';
             DELETE FROM outpost.messages WHERE body = 'insert';",
        )
        .await
        .unwrap();
    assert_eq!(
        keys().await[2..],
        [
            ("helper".into(), None, s("+40700000003"), s("h9")),
            ("copy".into(), None, s("b@example.com"), None),
        ]
    );
    let orphans: i64 = common::scalar(
        &client,
        "SELECT count(*) FROM outpost.message_keys k
         WHERE NOT EXISTS (SELECT 1 FROM outpost.messages m WHERE m.id = k.message_id)",
        &[],
    )
    .await;
    assert_eq!(orphans, 0, "a deleted message's keys go with it");
    client
        .batch_execute("TRUNCATE outpost.messages CASCADE")
        .await
        .unwrap();
    let left: i64 = common::scalar(&client, "SELECT count(*) FROM outpost.message_keys", &[]).await;
    assert_eq!(left, 0);

    let mut covering: Vec<String> = client
        .query(
            "SELECT indexname FROM pg_indexes
             WHERE schemaname = 'outpost' AND tablename = 'messages'
               AND indexdef ~ '\\m(to_user|to_address|tenant|created_at|finished_at)\\M'",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    covering.sort();
    // Two indexes of messages name the tenant: the one that makes
    // idempotency keys unique per tenant (0020; only rows with a key are in
    // it) and the claim's, of queued rows only (0021: tenants in turns).
    assert_eq!(
        covering,
        ["messages_claim_kind_idx", "messages_idempotency_key_unique"],
        "{covering:?}"
    );
    let status_index: String = common::scalar(
        &client,
        "SELECT indexdef FROM pg_indexes WHERE indexname = 'messages_status_id_idx'",
        &[],
    )
    .await;
    assert!(
        status_index.contains("'sending'") && status_index.contains("'sent'"),
        "the claim and the outcome write no status index entry: {status_index}"
    );
}

#[tokio::test]
async fn the_status_vocabulary_agrees_with_retry_and_cancel_in_sql() {
    use outpost::message::Status;
    let db = TestDb::new().await;
    let client = db.client().await;
    for status in Status::ALL {
        for (function, rust) in [
            ("outpost.retry", status.can_retry()),
            ("outpost.cancel", status.can_cancel()),
        ] {
            let id: i64 = common::scalar(
                &client,
                "INSERT INTO outpost.messages (kind, to_address, subject, body, status, leased_until) \
                 VALUES ('email', 'a@example.com', 's', 'b', $1, \
                         CASE WHEN $1 = 'sending' THEN now() + interval '1 hour' END) RETURNING id",
                &[&status.as_str()],
            )
            .await;
            let sql = format!("SELECT {function}($1) IS NOT NULL");
            let applied: bool = common::scalar(&client, &sql, &[&id]).await;
            assert_eq!(applied, rust, "{function} on a {status} message");
        }
    }
}

/// The names a CHECK constraint admits, in the order it lists them.
async fn check_names(client: &tokio_postgres::Client, constraint: &str) -> Vec<String> {
    let definition: String = common::scalar(
        client,
        "SELECT pg_get_constraintdef(oid) FROM pg_constraint WHERE conname = $1",
        &[&constraint],
    )
    .await;
    definition
        .split('\'')
        .skip(1)
        .step_by(2)
        .map(str::to_owned)
        .collect()
}

#[tokio::test]
async fn the_rust_vocabularies_are_the_schemas_check_constraints() {
    use outpost::message::{AttemptResult, Kind, Status};
    let db = TestDb::new().await;
    let client = db.client().await;
    let names = |all: &[&str]| all.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
    assert_eq!(
        check_names(&client, "messages_status_check").await,
        names(&Status::ALL.map(Status::as_str))
    );
    assert_eq!(
        check_names(&client, "messages_kind_check").await,
        names(&Kind::ALL.map(Kind::as_str))
    );
    assert_eq!(
        check_names(&client, "webhook_endpoints_event_types_check").await,
        names(&outpost::channel::webhook::EVENT_TYPES)
    );
    let in_sql: Vec<String> =
        common::scalar(&client, "SELECT outpost.webhook_event_types()", &[]).await;
    assert_eq!(in_sql, names(&outpost::channel::webhook::EVENT_TYPES));
    assert_eq!(
        check_names(&client, "attempts_outcome_check").await,
        names(&AttemptResult::ALL.map(AttemptResult::as_str))
    );
    for result in AttemptResult::ALL {
        assert_eq!(result.as_str().parse::<AttemptResult>().unwrap(), result);
        assert_eq!(
            serde_json::to_value(result).unwrap(),
            serde_json::json!(result.to_string())
        );
    }
    assert!("retried".parse::<AttemptResult>().is_err());
}

/// Columns of `outpost.messages` only the daemon writes.
const DAEMON_OWNED: &[&str] = &[
    "id",
    "status",
    "attempts",
    "leased_until",
    "worker",
    "provider_message_id",
    "last_error",
    "created_at",
    "updated_at",
    "sent_at",
    "finished_at",
    "segments",
    "pending_status",
    "pending_error",
    "deferrals",
    "digest_of",
    "escalated_from",
    "follow_up",
];
/// What is sent and to whom: each helper takes what its kind needs.
const CONTENT: &[&str] = &[
    "kind",
    "to_user",
    "to_address",
    "template",
    "context",
    "locale",
    "subject",
    "body",
    "html",
];

#[tokio::test]
async fn every_column_an_application_sets_is_an_argument_of_enqueue_and_of_every_helper() {
    let db = TestDb::new().await;
    let client = db.client().await;
    let columns: Vec<String> = client
        .query(
            "SELECT attname::text FROM pg_attribute
             WHERE attrelid = 'outpost.messages'::regclass AND attnum > 0 AND NOT attisdropped",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    // Every function of the schema that enqueues a message and returns its
    // id (the helpers, not the triggers), with its argument names.
    let helpers: Vec<(String, Vec<String>)> = client
        .query(
            "SELECT p.proname::text, coalesce(p.proargnames, '{}')::text[]
             FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
             WHERE n.nspname = 'outpost' AND p.prorettype = 'bigint'::regtype
               AND (p.proname = 'enqueue' OR p.prosrc LIKE '%outpost.enqueue(%')",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    // send_system_message returns a chat message's id; the push it may queue
    // takes only its category and digest key.
    let helpers: Vec<_> = helpers
        .into_iter()
        .filter(|(name, _)| name != "send_system_message")
        .collect();
    assert_eq!(helpers.len(), 11, "{helpers:?}");
    let enqueue = &helpers
        .iter()
        .find(|(name, _)| name == "enqueue")
        .unwrap()
        .1;
    for column in columns
        .iter()
        .filter(|c| !DAEMON_OWNED.contains(&c.as_str()))
    {
        assert!(
            enqueue.contains(column),
            "outpost.messages.{column} is not an argument of outpost.enqueue"
        );
        if CONTENT.contains(&column.as_str()) {
            continue;
        }
        for (helper, arguments) in &helpers {
            assert!(
                arguments.contains(column),
                "outpost.messages.{column} is a delivery control but not an argument of \
                 outpost.{helper}: add it to every helper (or list it in DAEMON_OWNED if \
                 only the daemon writes it)"
            );
        }
    }
}
