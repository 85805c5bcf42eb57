//! A property test with a real daemon: rows with hostile values in every
//! column the application role may write (messages and recipients), written
//! as `outpost_app` while `outpost run` is draining, among well-formed
//! e-mails. The daemon never exits; every hostile row is refused at enqueue
//! with a readable error or ends terminal (or stays queued for a future time
//! it asked for); every well-formed e-mail is delivered exactly once.
//!
//! proptest generates the values from a seed printed at the start (set
//! `OUTPOST_PROPTEST_SEED` to replay one); the case budget is fixed
//! (`OUTPOST_PROPTEST_CASES`, default 300).

use std::time::{Duration, Instant};

use proptest::prelude::*;
use proptest::strategy::ValueTree;
use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};
use serde_json::{Value, json};

use crate::common;

use common::TestDb;

fn text() -> impl Strategy<Value = String> {
    prop_oneof![
        Just(String::new()),
        Just(" ".to_owned()),
        "\\PC{0,24}",
        ".{0,12}",
        Just("a\u{0}b".to_owned()),
        Just("\u{202e}gnp.exe".to_owned()),
        Just("\u{feff}\u{200b}".to_owned()),
        Just("🦀".repeat(300)),
        Just("x".repeat(20_000)),
        Just("y".repeat(1_100_000)),
        Just("'; DROP TABLE outpost.messages; --".to_owned()),
        Just("{{ 7 * 7 }}{% for x in range(99999999) %}x{% endfor %}".to_owned()),
        Just("a@example.com\r\nBcc: victim@example.com".to_owned()),
    ]
}

fn address() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("ok@example.com".to_owned()),
        Just("a@b".to_owned()),
        Just("@".to_owned()),
        Just("\"quoted local\"@example.com".to_owned()),
        Just("ü@exämple.com".to_owned()),
        Just("a@example.com, b@example.com,,".to_owned()),
        Just("+15005550006".to_owned()),
        Just("+1".to_owned()),
        Just("+999999999999999999999".to_owned()),
        Just("00442079460000".to_owned()),
        Just("tel:+1-555".to_owned()),
        text(),
    ]
}

fn time() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("infinity".to_owned()),
        Just("-infinity".to_owned()),
        Just("294276-11-30".to_owned()),
        Just("4713-01-01 BC".to_owned()),
        Just("0001-01-01".to_owned()),
        Just("9999-12-31 23:59:59+00".to_owned()),
        Just("10000-01-01".to_owned()),
        Just("epoch".to_owned()),
        Just("now".to_owned()),
        Just("2000-02-30".to_owned()),
        Just("garbage".to_owned()),
        (1i32..300_000).prop_map(|y| format!("{y}-06-01")),
    ]
}

fn number() -> impl Strategy<Value = i64> {
    prop_oneof![
        Just(0),
        Just(-1),
        Just(1),
        Just(i64::from(i16::MAX)),
        Just(i64::from(i16::MIN)),
        Just(i64::from(i32::MAX)),
        Just(i64::from(i32::MIN)),
        Just(i64::MAX),
        any::<i64>(),
    ]
}

fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_map(|f| json!(f)),
        Just(json!(1e308)),
        text().prop_map(Value::from),
    ];
    let nested = leaf.prop_recursive(6, 48, 8, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..8).prop_map(Value::Array),
            prop::collection::hash_map("[a-z_]{1,8}", inner, 0..8)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    });
    prop_oneof![
        8 => nested,
        1 => (1usize..300).prop_map(deep),
        1 => (1usize..20_000).prop_map(|n| {
            Value::Object((0..n).map(|i| (format!("k{i}"), json!(i))).collect())
        }),
    ]
}

/// `n` nested arrays around a number.
fn deep(n: usize) -> Value {
    (0..n).fold(json!(1), |v, _| json!([v]))
}

/// Options with the names the daemon reads, given any value, and unknown ones.
fn options() -> impl Strategy<Value = Value> {
    let key = prop_oneof![
        Just("cc"),
        Just("bcc"),
        Just("reply_to"),
        Just("from"),
        Just("headers"),
        Just("attachments"),
        Just("categories"),
        Just("digest_window"),
        Just("sandbox"),
        Just("media_url"),
        Just("title"),
        Just("url"),
        Just("channel"),
        Just("unsubscribe"),
        Just("no_such_option"),
    ];
    let value = prop_oneof![
        json_value(),
        Just(json!("1h")),
        Just(json!("soon")),
        Just(json!({"X-SMTPAPI": "{}", "Bcc": "v@example.com"})),
        Just(json!([{"filename": "../../x", "content": "%%%"}])),
        Just(json!([{"filename": "a.pdf", "content": "QUFB", "type": 5}])),
    ];
    prop_oneof![
        4 => prop::collection::vec((key, value), 0..4)
            .prop_map(|kv| Value::Object(kv.into_iter().map(|(k, v)| (k.to_owned(), v)).collect())),
        1 => json_value(),
    ]
}

/// The columns `outpost_app` may write, in `INSERT_MESSAGE`'s order.
const COLUMNS: [&str; 19] = [
    "kind",
    "to_user",
    "to_address",
    "template",
    "context",
    "locale",
    "subject",
    "body",
    "html",
    "options",
    "provider",
    "tenant",
    "priority",
    "run_at",
    "expires_at",
    "idempotency_key",
    "max_attempts",
    "category",
    "digest_key",
];

/// One hostile message, as the text PostgreSQL casts to each column (so a
/// value it refuses is refused at enqueue): a sendable message of a random
/// kind with one to three columns given hostile values.
type Row = [Option<String>; 19];

/// A hostile value for any column; [`row`] picks the one of its type.
#[derive(Debug, Clone)]
struct Hostile {
    text: Option<String>,
    address: String,
    time: String,
    number: i64,
    json: Value,
    options: Value,
    kind: String,
    user: String,
    template: String,
}

fn hostile() -> impl Strategy<Value = Hostile> {
    (
        prop::option::weighted(0.8, text()),
        address(),
        time(),
        number(),
        json_value(),
        options(),
        prop_oneof![Just("fax".to_owned()), Just("EMAIL".to_owned()), text()],
        prop_oneof![(0u8..6).prop_map(|i| format!("u{i}")), text()],
        prop_oneof![
            Just("welcome".to_owned()),
            Just("../../etc/passwd".to_owned()),
            text()
        ],
    )
        .prop_map(|h| Hostile {
            text: h.0,
            address: h.1,
            time: h.2,
            number: h.3,
            json: h.4,
            options: h.5,
            kind: h.6,
            user: h.7,
            template: h.8,
        })
}

fn row() -> impl Strategy<Value = Row> {
    let kinds = ["email", "sms", "voice", "push", "chat"];
    (
        0usize..5,
        0u8..6,
        prop::collection::vec((0usize..COLUMNS.len(), hostile()), 1..=3),
    )
        .prop_map(move |(kind, user, changes)| {
            let kind = kinds[kind];
            let mut r: Row = Default::default();
            r[0] = Some(kind.to_owned());
            match kind {
                "email" => r[2] = Some(format!("ok{user}@example.com")),
                "sms" | "voice" => r[2] = Some("+15005550006".to_owned()),
                _ => r[1] = Some(format!("u{user}")),
            }
            r[6] = Some("subject".to_owned());
            r[7] = Some("body".to_owned());
            for (column, h) in changes {
                r[column] = match COLUMNS[column] {
                    "kind" => Some(h.kind),
                    "to_user" => Some(h.user),
                    "to_address" => Some(h.address),
                    "template" => Some(h.template),
                    "context" => Some(h.json.to_string()),
                    "options" => Some(h.options.to_string()),
                    "priority" | "max_attempts" => Some(h.number.to_string()),
                    "run_at" | "expires_at" => Some(h.time),
                    _ => h.text,
                };
            }
            r
        })
}

/// A hostile recipient: every column of `outpost.recipients`.
fn recipient() -> impl Strategy<Value = Vec<Option<String>>> {
    let o = |s: BoxedStrategy<String>| prop::option::weighted(0.7, s);
    (
        prop_oneof![(0u8..6).prop_map(|i| format!("u{i}")), text()],
        o(address().boxed()),
        o(address().boxed()),
        o(text().boxed()),
        o(prop_oneof![
            Just("Europe/Paris".to_owned()),
            Just("Mars/Olympus".to_owned()),
            text()
        ]
        .boxed()),
        o(text().boxed()),
        o(text().boxed()),
        o(text().boxed()),
        o(prop_oneof![
            Just("22:00-07:00".to_owned()),
            Just("25:00-99:99".to_owned()),
            text()
        ]
        .boxed()),
        o(time().boxed()),
    )
        .prop_map(|r| vec![Some(r.0), r.1, r.2, r.3, r.4, r.5, r.6, r.7, r.8, r.9])
}

const INSERT_MESSAGE: &str = "INSERT INTO outpost.messages (kind, to_user, to_address, template, context, \
     locale, subject, body, html, options, provider, tenant, priority, run_at, expires_at, \
     idempotency_key, max_attempts, category, digest_key) VALUES ($1, $2, $3, $4, \
     coalesce($5::text::jsonb, '{}'), $6, $7, $8, $9, coalesce($10::text::jsonb, '{}'), $11, $12, \
     coalesce($13::text::smallint, 0), coalesce($14::text::timestamptz, now()), $15::text::timestamptz, \
     $16, $17::text::int, $18, $19) RETURNING id";

const INSERT_RECIPIENT: &str = "INSERT INTO outpost.recipients (user_id, email, phone, locale, timezone, \
     tenant, push_named_user, name, quiet_hours, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, \
     coalesce($10::text::timestamptz, now()))";

async fn insert(client: &tokio_postgres::Client, r: &Row) -> Result<i64, tokio_postgres::Error> {
    let params: Vec<&(dyn tokio_postgres::types::ToSql + Sync)> = r
        .iter()
        .map(|v| v as &(dyn tokio_postgres::types::ToSql + Sync))
        .collect();
    Ok(client.query_one(INSERT_MESSAGE, &params).await?.get(0))
}

/// A refusal an operator can read: PostgreSQL's own message, not a dump.
fn readable(e: &tokio_postgres::Error) -> String {
    let db = e
        .as_db_error()
        .unwrap_or_else(|| panic!("not a database error: {e:?}"));
    let message = db.message().to_owned();
    assert!(!message.trim().is_empty(), "an empty error: {db:?}");
    assert!(message.len() < 2_000, "an error of {} bytes", message.len());
    message
}

fn seed() -> u64 {
    std::env::var("OUTPOST_PROPTEST_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos() as u64
        })
}

#[tokio::test]
async fn hostile_rows_never_stop_the_daemon() {
    drain_hostile(true).await;
}

/// As rows written before 0018, or by a role the enqueue check does not
/// stop: the daemon's own decoding is the wall.
#[tokio::test]
async fn hostile_rows_past_the_enqueue_check_never_stop_the_daemon() {
    drain_hostile(false).await;
}

async fn drain_hostile(enqueue_check: bool) {
    let seed = seed();
    let cases: usize = std::env::var("OUTPOST_PROPTEST_CASES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(300);
    println!(
        "hostile rows (enqueue check {}): seed {seed}, {cases} cases (replay: OUTPOST_PROPTEST_SEED={seed})",
        if enqueue_check { "on" } else { "off" }
    );
    let mut seed_bytes = [0u8; 32];
    seed_bytes[..8].copy_from_slice(&seed.to_le_bytes());
    let mut runner = TestRunner::new_with_rng(
        Config::default(),
        TestRng::from_seed(RngAlgorithm::ChaCha, &seed_bytes),
    );

    let db = TestDb::new().await;
    let admin = db.client().await;
    let client = db.client().await;
    client.batch_execute("SET ROLE outpost_app").await.unwrap();
    if !enqueue_check {
        admin
            .batch_execute(
                "ALTER TABLE outpost.messages DISABLE TRIGGER messages_refuse_unsendable",
            )
            .await
            .unwrap();
    }
    let provider = common::fake::sendgrid(Duration::from_millis(1)).await;
    let logs = tempfile::tempdir().unwrap();
    let log = logs.path().join("daemon.log");
    let env: Vec<(String, String)> = [
        ("OUTPOST__EMAIL__BACKEND", "sendgrid"),
        ("OUTPOST__EMAIL__SENDGRID__API_KEY", "SG.test"),
        ("OUTPOST__EMAIL__SENDGRID__BASE_URL", provider.uri.as_str()),
        ("OUTPOST__EMAIL__FROM", "Tests <tests@example.com>"),
        ("OUTPOST__RETRY__MAX_ATTEMPTS", "1"),
        ("OUTPOST__DISPATCH__LEASE", "3s"),
        ("OUTPOST__DISPATCH__SEND_TIMEOUT", "2s"),
        ("OUTPOST__DISPATCH__RESCUE_INTERVAL", "1s"),
        ("OUTPOST__LOG__LEVEL", "warn"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .chain([(
        "OUTPOST__HTTP__LISTEN".to_owned(),
        format!("127.0.0.1:{}", common::free_port()),
    )])
    .collect();
    let mut daemon = common::daemon::start_logged(&db.url, &env, &log);
    // What the daemon said last, for a failure message.
    let tail = || {
        let text = std::fs::read_to_string(&log).unwrap_or_default();
        let _ = std::fs::write(
            std::env::temp_dir().join(format!("hostile-{seed}.log")),
            &text,
        );
        let start = text
            .find("panicked")
            .unwrap_or(text.len().saturating_sub(3000));
        let start = text.floor_char_boundary(start.saturating_sub(500));
        text[start..text.ceil_char_boundary(start + 3000)].to_owned()
    };

    let mut good = Vec::new();
    let mut hostile = Vec::new();
    let mut refused = 0usize;
    for case in 0..cases {
        if case % 6 == 0 {
            let recipient = recipient().new_tree(&mut runner).unwrap().current();
            if let Err(e) = client
                .execute(
                    INSERT_RECIPIENT,
                    &[
                        &recipient[0],
                        &recipient[1],
                        &recipient[2],
                        &recipient[3],
                        &recipient[4],
                        &recipient[5],
                        &recipient[6],
                        &recipient[7],
                        &recipient[8],
                        &recipient[9],
                    ],
                )
                .await
            {
                readable(&e);
            }
            let id: i64 = client
                .query_one(
                    "INSERT INTO outpost.messages (kind, to_address, subject, body) \
                     VALUES ('email', $1, 'ok', 'well-formed') RETURNING id",
                    &[&format!("good{case}@example.com")],
                )
                .await
                .unwrap()
                .get(0);
            good.push(id);
        }
        let r = row().new_tree(&mut runner).unwrap().current();
        match insert(&client, &r).await {
            Ok(id) => hostile.push(id),
            Err(e) => {
                readable(&e);
                refused += 1;
            }
        }
        assert!(
            daemon.0.try_wait().unwrap().is_none(),
            "seed {seed}: the daemon exited after case {case}; its log ends:\n{}",
            tail()
        );
    }
    println!(
        "hostile rows: {} stored, {refused} refused, {} well-formed",
        hostile.len(),
        good.len()
    );

    // Settled: terminal, or queued for a time still ahead (a future run_at or
    // a retry's back-off, which a large max_attempts may ask for).
    let all: Vec<i64> = good.iter().chain(&hostile).copied().collect();
    let started = Instant::now();
    loop {
        let unsettled: Vec<i64> = admin
            .query(
                "SELECT id FROM outpost.messages WHERE id = ANY($1) AND (status = 'sending' \
                 OR (status = 'queued' AND run_at <= now() + interval '2 seconds' \
                     AND (expires_at IS NULL OR expires_at > now())))",
                &[&all],
            )
            .await
            .unwrap()
            .iter()
            .map(|r| r.get(0))
            .collect();
        if unsettled.is_empty() {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(90),
            "seed {seed}: messages never settled: {unsettled:?}"
        );
        assert!(
            daemon.0.try_wait().unwrap().is_none(),
            "seed {seed}: the daemon exited while draining; its log ends:\n{}",
            tail()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(
        daemon.0.try_wait().unwrap().is_none(),
        "seed {seed}: the daemon exited; its log ends:\n{}",
        tail()
    );

    // No task of the daemon panicked either (a panicking task need not end
    // the process).
    let log_text = std::fs::read_to_string(&log).unwrap_or_default();
    assert!(
        !log_text.contains("panicked"),
        "seed {seed}: a task panicked; its log ends:\n{}",
        tail()
    );

    let seen = provider.seen.lock().unwrap().clone();
    for id in &good {
        let status: String = admin
            .query_one("SELECT status FROM outpost.messages WHERE id = $1", &[id])
            .await
            .unwrap()
            .get(0);
        assert_eq!(status, "sent", "seed {seed}: well-formed message {id}");
        assert_eq!(
            seen.get(id),
            Some(&1),
            "seed {seed}: message {id} sent once"
        );
    }
    // Every hostile row that failed says why.
    let silent: Vec<i64> = admin
        .query(
            "SELECT id FROM outpost.messages WHERE id = ANY($1) AND status = 'failed' \
             AND coalesce(btrim(last_error), '') = ''",
            &[&hostile],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert!(
        silent.is_empty(),
        "seed {seed}: failed without an error: {silent:?}"
    );
    let panicked: i64 = admin
        .query_one(
            "SELECT count(*) FROM outpost.messages WHERE id = ANY($1) AND last_error ILIKE '%panick%'",
            &[&hostile],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(panicked, 0, "seed {seed}: a send panicked");
    // The enqueue check was exercised both ways.
    assert!(
        refused > 0 && !hostile.is_empty(),
        "seed {seed}: {refused} refused, {} stored",
        hostile.len()
    );
}
