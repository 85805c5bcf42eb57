//! Rows that cannot be read or sent: refused at enqueue with an error naming
//! the column, and — when one is in the table anyway (written before the
//! schema refused it, or by a superuser) — failed alone by a real daemon that
//! keeps running and sends the rest of the batch.

use std::time::Duration;

use crate::common;

use common::TestDb;

/// The three rows that crashed every daemon before: a time PostgreSQL
/// accepts and chrono cannot hold (infinity, and a year past 262143) and a
/// context nested deeper than serde_json reads (128).
fn poison_values() -> Vec<(&'static str, String, &'static str)> {
    let deep = format!("{}1{}", "{\"a\":".repeat(200), "}".repeat(200));
    vec![
        ("expires_at", "'infinity'".to_owned(), "expires_at"),
        ("expires_at", "'294276-11-30'".to_owned(), "expires_at"),
        ("context", format!("'{deep}'::jsonb"), "context"),
    ]
}

#[tokio::test]
async fn a_poison_row_fails_alone_and_the_daemon_keeps_running() {
    let db = TestDb::new().await;
    let client = db.client().await;
    let provider = common::fake::sendgrid(Duration::from_millis(1)).await;

    // As rows written before 0018 would be: the enqueue check is off.
    client
        .batch_execute("ALTER TABLE outpost.messages DISABLE TRIGGER messages_refuse_unsendable")
        .await
        .unwrap();
    let mut good = Vec::new();
    let mut poison = Vec::new();
    for i in 0..20 {
        if i % 5 == 2 {
            let (column, value, named) = &poison_values()[poison.len() % 3];
            let id: i64 = client
                .query_one(
                    &format!(
                        "INSERT INTO outpost.messages (kind, to_address, subject, body, {column}) \
                         VALUES ('email', 'poison{i}@example.com', 's', 'b', {value}) RETURNING id"
                    ),
                    &[],
                )
                .await
                .unwrap()
                .get(0);
            poison.push((id, *named));
        } else {
            let id: i64 = client
                .query_one(
                    "INSERT INTO outpost.messages (kind, to_address, subject, body) \
                     VALUES ('email', $1, 's', 'b') RETURNING id",
                    &[&format!("good{i}@example.com")],
                )
                .await
                .unwrap()
                .get(0);
            good.push(id);
        }
    }
    client
        .batch_execute("ALTER TABLE outpost.messages ENABLE TRIGGER messages_refuse_unsendable")
        .await
        .unwrap();
    assert_eq!(poison.len(), 4);

    // One claim takes all twenty: the poison rows share a batch with the rest.
    let mut daemon = common::daemon::start(
        &db.url,
        &provider.uri,
        &[("OUTPOST__DISPATCH__BATCH_SIZE", "100")],
    );
    let all: Vec<i64> = good
        .iter()
        .copied()
        .chain(poison.iter().map(|(id, _)| *id))
        .collect();
    common::daemon::settled(&client, &all).await;
    // Still running, a moment after the poison rows were claimed.
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(
        daemon.0.try_wait().unwrap().is_none(),
        "the daemon exited on a poison row"
    );

    for (id, column) in &poison {
        let row = client
            .query_one(
                "SELECT status, last_error FROM outpost.messages WHERE id = $1",
                &[id],
            )
            .await
            .unwrap();
        let status: String = row.get(0);
        let error: String = row.get(1);
        assert_eq!(status, "failed", "message {id}: {error}");
        assert!(
            error.starts_with(&format!("cannot read column {column}: ")),
            "message {id}: {error}"
        );
        assert!(
            !error.contains("poison"),
            "no address in the error: {error}"
        );
    }
    let seen = provider.seen.lock().unwrap().clone();
    for id in &good {
        assert_eq!(seen.get(id), Some(&1), "good message {id} sent once");
    }
    for (id, _) in &poison {
        assert_eq!(seen.get(id), None, "poison message {id} was not sent");
    }
    let attempts: i64 = common::scalar(
        &client,
        "SELECT count(*) FROM outpost.attempts WHERE outcome = 'failed' AND error LIKE 'cannot read column %'",
        &[],
    )
    .await;
    assert_eq!(attempts, 4, "each poison row's attempt is recorded");
}

#[tokio::test]
async fn what_can_never_be_sent_is_refused_at_enqueue_naming_the_column() {
    let db = TestDb::new().await;
    let client = db.client().await;
    client.batch_execute("SET ROLE outpost_app").await.unwrap();
    let deep = |n: usize| format!("'{}1{}'::jsonb", "{\"a\":".repeat(n), "}".repeat(n));
    let deep_array = format!("'{{\"a\": {}1{}}}'::jsonb", "[".repeat(70), "]".repeat(70));
    let cases: Vec<(String, &str)> = vec![
        (
            "SELECT outpost.send_mail_template('welcome', to_address => 'x@example.com', expires_at => 'infinity')".into(),
            "expires_at must be a time between the years 1 and 9999",
        ),
        (
            "INSERT INTO outpost.messages (kind, to_address, body, expires_at) VALUES ('email', 'a@example.com', 'b', '294276-11-30')".into(),
            "expires_at must be a time between the years 1 and 9999",
        ),
        (
            "INSERT INTO outpost.messages (kind, to_address, body, run_at) VALUES ('email', 'a@example.com', 'b', '-infinity')".into(),
            "run_at must be a time between the years 1 and 9999",
        ),
        (
            format!("INSERT INTO outpost.messages (kind, to_address, body, context) VALUES ('email', 'a@example.com', 'b', {})", deep(200)),
            "context is nested more than 64 levels deep",
        ),
        (
            format!("INSERT INTO outpost.messages (kind, to_address, body, options) VALUES ('email', 'a@example.com', 'b', {deep_array})"),
            "options is nested more than 64 levels deep",
        ),
        (
            "INSERT INTO outpost.messages (kind, to_address, body) VALUES ('email', 'a@example.com', repeat('x', 4194305))".into(),
            "body is 4194305 bytes, above its limit of 4194304 bytes",
        ),
        (
            "INSERT INTO outpost.messages (kind, to_address, body, options) VALUES ('email', 'a@example.com', 'b', \
             jsonb_build_object('attachments', jsonb_build_array(jsonb_build_object('filename', 'a.bin', 'content', repeat('QUFB', 4194305)))))".into(),
            "options is",
        ),
        (
            "INSERT INTO outpost.messages (kind, to_address, body, context) VALUES ('email', 'a@example.com', 'b', \
             jsonb_build_object('big', repeat('y', 1048576)))".into(),
            "context is",
        ),
        (
            "INSERT INTO outpost.messages (kind, to_address, body) VALUES ('email', repeat('a', 16385), 'b')".into(),
            "to_address is 16385 bytes",
        ),
        (
            "INSERT INTO outpost.messages (kind, to_address, body, options, digest_key) VALUES ('email', 'a@example.com', 'b', '{\"digest_window\": \"soon\"}', 'k')".into(),
            "options.digest_window \"soon\" is not a duration",
        ),
        (
            "INSERT INTO outpost.messages (kind, to_address, body, options, digest_key) VALUES ('email', 'a@example.com', 'b', '{\"digest_window\": \"300000 years\"}', 'k')".into(),
            "is longer than 31 days",
        ),
        (
            "INSERT INTO outpost.recipients (user_id, name) VALUES ('big', repeat('n', 1025))".into(),
            "recipients_sizes_check",
        ),
        (
            "INSERT INTO outpost.recipients (user_id, created_at) VALUES ('old', 'infinity')".into(),
            "recipients_times_check",
        ),
    ];
    for (sql, expected) in &cases {
        let err = client
            .batch_execute(sql)
            .await
            .expect_err(&format!("refused: {sql:.120}"));
        let db_error = err.as_db_error().expect("a database error");
        assert!(
            db_error.message().contains(expected),
            "{sql:.120}: {}",
            db_error.message()
        );
        assert!(
            !db_error.message().contains("a@example.com") && !db_error.message().contains("aaaa"),
            "no recipient in the error: {}",
            db_error.message()
        );
    }
    // At the bounds, accepted.
    client
        .batch_execute(&format!(
            "INSERT INTO outpost.messages (kind, to_address, body, context, expires_at) \
             VALUES ('email', 'a@example.com', repeat('x', 4194304), {}, '9999-12-31')",
            deep(63)
        ))
        .await
        .unwrap();
    // A digest group holds at most 100 queued messages.
    for i in 0..100 {
        client
            .batch_execute(&format!(
                "INSERT INTO outpost.messages (kind, to_user, body, digest_key, options) \
                 VALUES ('email', 'u1', 'item {i}', 'daily', '{{\"digest_window\": \"1h\"}}')"
            ))
            .await
            .unwrap();
    }
    let err = client
        .batch_execute(
            "INSERT INTO outpost.messages (kind, to_user, body, digest_key) VALUES ('email', 'u1', 'one more', 'daily')",
        )
        .await
        .unwrap_err();
    assert!(
        err.as_db_error()
            .unwrap()
            .message()
            .contains("already holds 100 queued messages"),
        "{err:?}"
    );
}

#[tokio::test]
async fn a_claim_holds_a_bounded_number_of_bytes() {
    let db = TestDb::new().await;
    let client = db.client().await;
    // Ten messages with 12 MiB of attachment each: a claim of 100 takes three
    // (32 MiB: the third is taken while the first two hold 24), not ten.
    // Half compress well (stored compressed: measured as text), half do not
    // (random hex, stored as is: measured by their stored size).
    for i in 0..10 {
        let content = if i % 2 == 0 {
            "repeat('QUFB', 3145728)"
        } else {
            "(SELECT string_agg(md5(g::text), '') FROM generate_series(1, 393216) g)"
        };
        client
            .batch_execute(&format!(
                "INSERT INTO outpost.messages (kind, to_address, body, options) VALUES ('email', 'a@example.com', 'b', \
                 jsonb_build_object('attachments', jsonb_build_array(jsonb_build_object('filename', 'a.bin', \
                 'content', {content}))))"
            ))
            .await
            .unwrap();
    }
    let compressed: i64 = common::scalar(
        &client,
        "SELECT count(*) FROM outpost.messages WHERE pg_column_compression(options) IS NOT NULL",
        &[],
    )
    .await;
    assert_eq!(compressed, 5, "both ways of measuring are exercised");
    let config = db.config(&[]);
    let (channels, _) = db.channels(&config);
    let dispatcher = db.dispatcher(&config, channels, "w1");
    let batch = dispatcher
        .claim(100, &[outpost::message::Kind::Email])
        .await
        .unwrap();
    assert_eq!(batch.len(), 3);
    assert_eq!(outpost::dispatch::claim::CLAIM_BYTES, 32 * 1024 * 1024);
    let rest = dispatcher
        .claim(100, &[outpost::message::Kind::Email])
        .await
        .unwrap();
    assert_eq!(rest.len(), 3, "the next claim takes the next three");
}

#[tokio::test]
async fn status_and_the_console_show_a_row_they_cannot_decode_strictly() {
    let db = TestDb::new().await;
    let client = db.client().await;
    let deep = format!("{}1{}", "{\"a\":".repeat(200), "}".repeat(200));
    client
        .batch_execute("ALTER TABLE outpost.messages DISABLE TRIGGER messages_refuse_unsendable")
        .await
        .unwrap();
    let id: i64 = client
        .query_one(
            &format!(
                "INSERT INTO outpost.messages (kind, to_address, subject, body, status, expires_at, run_at, context) \
                 VALUES ('email', 'a@example.com', 's', 'b', 'failed', 'infinity', '294276-11-30', '{deep}') RETURNING id"
            ),
            &[],
        )
        .await
        .unwrap()
        .get(0);

    let out = std::process::Command::new(env!("CARGO_BIN_EXE_outpost"))
        .args(["status", &id.to_string()])
        .env("DATABASE_URL", &db.url)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("expires_at           infinity"), "{stdout}");
    assert!(
        stdout.contains("run_at               out of range"),
        "{stdout}"
    );

    let console = common::console::Console::start(&db, &[]).await;
    let mut admin = console.signed_in(common::console::ADMIN).await;
    let (status, _, body) = admin.get(&format!("/messages/{id}")).await;
    assert_eq!(status, reqwest::StatusCode::OK, "{body}");
    assert!(body.contains("infinity"), "{body}");
    assert!(body.contains("recursion limit exceeded"), "{body}");
}

#[tokio::test]
async fn a_digest_carries_at_most_99_members_and_bad_windows_never_stall_the_claim() {
    let db = TestDb::new().await;
    let client = db.client().await;
    // Written past the enqueue check, as rows from before 0018 could be: a
    // group of 150, and two groups whose windows the claim cannot add to now().
    client
        .batch_execute(
            "ALTER TABLE outpost.messages DISABLE TRIGGER messages_refuse_unsendable;
             ALTER TABLE outpost.messages DISABLE TRIGGER messages_b_digest;
             INSERT INTO outpost.messages (kind, to_user, subject, body, digest_key, options)
             SELECT 'email', 'u1', 's', 'item ' || g, 'big', '{\"digest_window\": \"1h\"}'
             FROM generate_series(1, 150) g;
             INSERT INTO outpost.messages (kind, to_user, subject, body, digest_key, options)
             SELECT 'email', 'u2', 's', 'b', 'far', '{\"digest_window\": \"300000 years\"}'
             FROM generate_series(1, 2);
             INSERT INTO outpost.messages (kind, to_user, subject, body, digest_key, options)
             SELECT 'email', 'u3', 's', 'b', 'soon', '{\"digest_window\": \"soon\"}'
             FROM generate_series(1, 2);
             ALTER TABLE outpost.messages ENABLE TRIGGER messages_refuse_unsendable;
             ALTER TABLE outpost.messages ENABLE TRIGGER messages_b_digest;",
        )
        .await
        .unwrap();
    let config = db.config(&[]);
    let (channels, _) = db.channels(&config);
    let dispatcher = db.dispatcher(&config, channels, "w1");
    let batch = dispatcher
        .claim(100, &[outpost::message::Kind::Email])
        .await
        .expect("the claim does not fail on a digest window it cannot use");
    let big = batch
        .iter()
        .find(|m| m.to_user.as_deref() == Some("u1"))
        .unwrap();
    assert_eq!(
        big.controls.digest.as_ref().map(Vec::len),
        Some(100),
        "itself and 99 members"
    );
    // The windows that cannot be used count as none: each of those groups'
    // first message is claimed, and so is the other, which was due already.
    for user in ["u2", "u3"] {
        assert!(
            batch.iter().any(|m| m.to_user.as_deref() == Some(user)),
            "{user}"
        );
    }
    let left: i64 = common::scalar(
        &client,
        "SELECT count(*) FROM outpost.messages WHERE status = 'queued' AND to_user = 'u1'",
        &[],
    )
    .await;
    assert_eq!(left, 50, "the rest form the next digest");
    let next = dispatcher
        .claim(100, &[outpost::message::Kind::Email])
        .await
        .unwrap();
    let big = next
        .iter()
        .find(|m| m.to_user.as_deref() == Some("u1"))
        .unwrap();
    assert_eq!(big.controls.digest.as_ref().map(Vec::len), Some(50));
}

#[tokio::test]
async fn a_recipient_field_over_256_mib_does_not_stall_the_claim() {
    let db = TestDb::new().await;
    let client = db.client().await;
    // Past the recipients' size check, as the application's own recipients
    // view could hold: to_jsonb() refuses a string this long.
    client
        .batch_execute(
            "ALTER TABLE outpost.recipients DROP CONSTRAINT recipients_sizes_check;
             INSERT INTO outpost.recipients (user_id, email, name)
             VALUES ('huge', 'huge@example.com', repeat('n', 270 * 1024 * 1024));
             INSERT INTO outpost.messages (kind, to_user, subject, body) VALUES ('email', 'huge', 's', 'b');",
        )
        .await
        .unwrap();
    let config = db.config(&[]);
    let (channels, _) = db.channels(&config);
    let dispatcher = db.dispatcher(&config, channels, "w1");
    let batch = dispatcher
        .claim(10, &[outpost::message::Kind::Email])
        .await
        .expect("the claim reads the recipient");
    assert_eq!(batch.len(), 1);
    let recipient = batch[0].recipient.as_ref().unwrap();
    assert_eq!(
        recipient.name.as_ref().map(String::len),
        Some(1024),
        "read bounded"
    );
}
