//! The dispatcher step by step against a real PostgreSQL: claims, outcomes,
//! retries, failures, expiry, cancellation, rescue and exactly-once delivery.

use crate::common;

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use common::recorder::Recorder;
use common::{TestDb, row};
use outpost::channel::{Channel, Channels, Delivery, SendError};
use outpost::dispatch::Dispatcher;
use outpost::enqueue::{NewMessage, enqueue};
use outpost::message::{ClaimedMessage, Kind, MessageId};

fn channels(recorder: &Arc<Recorder>) -> Channels {
    Channels::with_default_for_all(recorder.clone() as Arc<dyn Channel>)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn four_dispatchers_deliver_5000_messages_exactly_once() {
    let db = TestDb::new().await;
    let client = db.client().await;
    outpost_testkit::enqueue_bulk(&client, 5000).await.unwrap();
    let config = db.config(&[("OUTPOST__DISPATCH__BATCH_SIZE", "50")]);
    let recorder = Recorder::accepting("rec");
    let mut handles = Vec::new();
    for i in 0..4 {
        let d = db.dispatcher(&config, channels(&recorder), &format!("w{i}"));
        handles.push(tokio::spawn(async move { d.drain().await.unwrap() }));
    }
    let mut claimed = Vec::new();
    for h in handles {
        claimed.push(h.await.unwrap());
    }
    assert_eq!(
        claimed.iter().sum::<usize>(),
        5000,
        "claims per worker: {claimed:?}"
    );
    assert!(
        claimed.iter().filter(|&&n| n > 0).count() >= 2,
        "work was shared: {claimed:?}"
    );
    let per_message = recorder.per_message();
    assert_eq!(per_message.len(), 5000);
    assert!(
        per_message.values().all(|&n| n == 1),
        "a message was sent twice"
    );
    let r = client
        .query_one(
            "SELECT count(*) FILTER (WHERE status = 'sent'),
                    count(*) FILTER (WHERE status <> 'sent'),
                    (SELECT count(*) FROM outpost.attempts WHERE outcome = 'sent' AND applied)
             FROM outpost.messages",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(
        (r.get::<_, i64>(0), r.get::<_, i64>(1), r.get::<_, i64>(2)),
        (5000, 0, 5000)
    );
}

#[tokio::test]
async fn a_bad_row_fails_alone_and_its_batch_is_delivered() {
    let db = TestDb::new().await;
    let client = db.client().await;
    client
        .batch_execute(
            "INSERT INTO outpost.recipients (user_id, email, phone) VALUES
                 ('ann', 'ann@example.com', NULL), ('bob', NULL, '+353861234567')",
        )
        .await
        .unwrap();
    let good = db.email(&client, "a@example.com").await;
    let mut by_user = NewMessage::new(Kind::Email);
    by_user.to_user = Some("ann".into());
    let ann = enqueue(&client, &by_user).await.unwrap();
    by_user.to_user = Some("bob".into());
    let no_email = enqueue(&client, &by_user).await.unwrap();
    by_user.to_user = Some("nobody".into());
    let unknown = enqueue(&client, &by_user).await.unwrap();
    let mut forced = NewMessage::new(Kind::Sms);
    forced.to_address = Some("+353861234567".into());
    forced.provider = Some("carrier-pigeon".into());
    let bad_provider = enqueue(&client, &forced).await.unwrap();
    let good2 = db.email(&client, "b@example.com").await;

    let recorder = Recorder::accepting("rec");
    let d = db.dispatcher(&db.config(&[]), channels(&recorder), "w");
    assert_eq!(d.run_once().await.unwrap(), 6, "one batch holds all six");

    assert_eq!(row(&client, good).await.0, "sent");
    assert_eq!(row(&client, good2).await.0, "sent");
    assert_eq!(row(&client, ann).await.0, "sent");
    assert_eq!(
        recorder
            .sent
            .lock()
            .unwrap()
            .iter()
            .find(|s| s.0 == ann)
            .unwrap()
            .2,
        "ann@example.com"
    );
    assert_eq!(
        row(&client, no_email).await,
        (
            "failed".into(),
            1,
            Some("recipient user \"bob\" has no e-mail address for email messages".into())
        )
    );
    assert_eq!(
        row(&client, unknown).await,
        (
            "failed".into(),
            1,
            Some("unknown recipient: user \"nobody\" is not in outpost.recipients".into())
        )
    );
    let (status, _, error) = row(&client, bad_provider).await;
    assert_eq!(status, "failed");
    assert!(
        error
            .unwrap()
            .contains("unknown provider \"carrier-pigeon\" for sms messages")
    );
    assert_eq!(recorder.count(), 3);
}

#[tokio::test]
async fn transient_errors_back_off_within_the_schedule() {
    let db = TestDb::new().await;
    let client = db.client().await;
    let id = db.email(&client, "a@example.com").await;
    let recorder = Recorder::with_rule("rec", |_| {
        Err(SendError::transient("connection reset").with_code("ECONNRESET"))
    });
    let config = db.config(&[
        ("OUTPOST__RETRY__BASE", "60s"),
        ("OUTPOST__RETRY__CAP", "10m"),
    ]);
    let d = db.dispatcher(&config, channels(&recorder), "w");
    d.run_once().await.unwrap();

    let r = client
        .query_one(
            "SELECT status, attempts, last_error, extract(epoch FROM run_at - now())::float8, leased_until IS NULL
             FROM outpost.messages WHERE id = $1",
            &[&id.0],
        )
        .await
        .unwrap();
    assert_eq!(r.get::<_, String>(0), "queued");
    assert_eq!(r.get::<_, i32>(1), 1);
    assert_eq!(
        r.get::<_, Option<String>>(2).as_deref(),
        Some("connection reset")
    );
    let wait: f64 = r.get(3);
    assert!(
        (-1.0..=60.0).contains(&wait),
        "first retry within base: {wait}"
    );
    assert!(r.get::<_, bool>(4), "lease cleared");
    // Not due yet: a second pass claims nothing.
    assert_eq!(d.run_once().await.unwrap(), 0);

    // Make it due; the second attempt's ceiling is 2 × base.
    client
        .execute(
            "UPDATE outpost.messages SET run_at = now() WHERE id = $1",
            &[&id.0],
        )
        .await
        .unwrap();
    assert_eq!(d.run_once().await.unwrap(), 1);
    let wait: f64 = common::scalar(
        &client,
        "SELECT extract(epoch FROM run_at - now())::float8 FROM outpost.messages WHERE id = $1",
        &[&id.0],
    )
    .await;
    assert!(
        (-1.0..=120.0).contains(&wait),
        "second retry within 2 × base: {wait}"
    );
    let attempts = client
        .query("SELECT attempt, outcome, provider, provider_code, error FROM outpost.attempts WHERE message_id = $1 ORDER BY attempt", &[&id.0])
        .await
        .unwrap();
    assert_eq!(attempts.len(), 2);
    for (i, a) in attempts.iter().enumerate() {
        assert_eq!(a.get::<_, i32>(0), i as i32 + 1);
        assert_eq!(a.get::<_, String>(1), "retry");
        assert_eq!(a.get::<_, Option<String>>(2).as_deref(), Some("rec"));
        assert_eq!(a.get::<_, Option<String>>(3).as_deref(), Some("ECONNRESET"));
        assert_eq!(
            a.get::<_, Option<String>>(4).as_deref(),
            Some("connection reset")
        );
    }
}

#[tokio::test]
async fn rate_limits_wait_for_retry_after() {
    let db = TestDb::new().await;
    let client = db.client().await;
    let id = db.email(&client, "a@example.com").await;
    let recorder = Recorder::with_rule("rec", |_| {
        Err(SendError::rate_limited(
            Some(Duration::from_secs(7200)),
            "429 Too Many Requests",
        ))
    });
    let d = db.dispatcher(&db.config(&[]), channels(&recorder), "w");
    d.run_once().await.unwrap();
    let wait: f64 = common::scalar(
        &client,
        "SELECT extract(epoch FROM run_at - now())::float8 FROM outpost.messages WHERE id = $1",
        &[&id.0],
    )
    .await;
    assert!(
        (7190.0..=7201.0).contains(&wait),
        "Retry-After honoured past the cap: {wait}"
    );
}

#[tokio::test]
async fn permanent_errors_fail_at_once() {
    let db = TestDb::new().await;
    let client = db.client().await;
    let id = db.email(&client, "nobody@example.com").await;
    let recorder = Recorder::with_rule("rec", |_| {
        Err(SendError::permanent("550 5.1.1 mailbox unavailable").with_code("550"))
    });
    let d = db.dispatcher(&db.config(&[]), channels(&recorder), "w");
    d.run_once().await.unwrap();
    assert_eq!(
        row(&client, id).await,
        (
            "failed".into(),
            1,
            Some("550 5.1.1 mailbox unavailable".into())
        )
    );
    let r = client
        .query_one(
            "SELECT outcome, provider_code FROM outpost.attempts WHERE message_id = $1",
            &[&id.0],
        )
        .await
        .unwrap();
    assert_eq!(
        (r.get::<_, String>(0), r.get::<_, Option<String>>(1)),
        ("failed".into(), Some("550".into()))
    );
    assert_eq!(d.run_once().await.unwrap(), 0);
}

#[tokio::test]
async fn a_spent_budget_fails_the_message() {
    let db = TestDb::new().await;
    let client = db.client().await;
    let mut m = NewMessage::new(Kind::Sms);
    m.to_address = Some("+353861234567".into());
    m.body = Some("hi".into());
    m.max_attempts = Some(3);
    let id = enqueue(&client, &m).await.unwrap();
    let recorder = Recorder::with_rule("rec", |_| {
        Err(SendError::transient("503 Service Unavailable"))
    });
    let d = db.dispatcher(&db.config(&[]), channels(&recorder), "w");
    for _ in 0..3 {
        client
            .execute(
                "UPDATE outpost.messages SET run_at = now() WHERE id = $1",
                &[&id.0],
            )
            .await
            .unwrap();
        assert_eq!(d.run_once().await.unwrap(), 1);
    }
    assert_eq!(
        row(&client, id).await,
        (
            "failed".into(),
            3,
            Some("gave up after 3 attempts: 503 Service Unavailable".into())
        )
    );
    assert_eq!(recorder.count(), 3);
    client
        .execute(
            "UPDATE outpost.messages SET run_at = now() WHERE id = $1",
            &[&id.0],
        )
        .await
        .unwrap();
    assert_eq!(
        d.run_once().await.unwrap(),
        0,
        "a failed message is never claimed again"
    );
}

#[tokio::test]
async fn overdue_messages_expire_and_are_never_sent() {
    let db = TestDb::new().await;
    let client = db.client().await;
    let mut m = NewMessage::new(Kind::Push);
    m.to_address = Some("channel-1".into());
    m.body = Some("too late".into());
    m.expires_at = Some(chrono::Utc::now() - chrono::Duration::seconds(1));
    let overdue = enqueue(&client, &m).await.unwrap();
    m.expires_at = Some(chrono::Utc::now() + chrono::Duration::hours(1));
    let fresh = enqueue(&client, &m).await.unwrap();

    let recorder = Recorder::accepting("rec");
    let d = db.dispatcher(&db.config(&[]), channels(&recorder), "w");
    assert_eq!(
        d.run_once().await.unwrap(),
        1,
        "only the fresh one is claimed"
    );
    assert_eq!(recorder.sent.lock().unwrap()[0].0, fresh);
    let report = d.rescue().await.unwrap();
    assert_eq!(report.expired, 1);
    let (status, attempts, error) = row(&client, overdue).await;
    assert_eq!((status.as_str(), attempts), ("expired", 0));
    assert!(error.unwrap().starts_with("expired at "));
}

#[tokio::test]
async fn a_retry_that_would_pass_expires_at_expires() {
    let db = TestDb::new().await;
    let client = db.client().await;
    let mut m = NewMessage::new(Kind::Email);
    m.to_address = Some("a@example.com".into());
    m.expires_at = Some(chrono::Utc::now() + chrono::Duration::seconds(30));
    let id = enqueue(&client, &m).await.unwrap();
    let recorder = Recorder::with_rule("rec", |_| {
        Err(SendError::rate_limited(
            Some(Duration::from_secs(3600)),
            "slow down",
        ))
    });
    let d = db.dispatcher(&db.config(&[]), channels(&recorder), "w");
    d.run_once().await.unwrap();
    let (status, _, error) = row(&client, id).await;
    assert_eq!(status, "expired");
    assert!(error.unwrap().contains("slow down"));
}

#[tokio::test]
async fn cancelled_and_future_messages_wait_or_are_never_sent() {
    let db = TestDb::new().await;
    let client = db.client().await;
    let cancelled = db.email(&client, "a@example.com").await;
    let r = client
        .query_one("SELECT outpost.cancel($1)", &[&cancelled.0])
        .await
        .unwrap();
    assert_eq!(r.get::<_, Option<i64>>(0), Some(cancelled.0));
    let again = client
        .query_one("SELECT outpost.cancel($1)", &[&cancelled.0])
        .await
        .unwrap();
    assert_eq!(
        again.get::<_, Option<i64>>(0),
        None,
        "cancel of a cancelled message does nothing"
    );
    let mut later = NewMessage::new(Kind::Email);
    later.to_address = Some("b@example.com".into());
    later.run_at = Some(chrono::Utc::now() + chrono::Duration::hours(1));
    let later = enqueue(&client, &later).await.unwrap();

    let recorder = Recorder::accepting("rec");
    let d = db.dispatcher(&db.config(&[]), channels(&recorder), "w");
    assert_eq!(d.drain().await.unwrap(), 0);
    assert_eq!(recorder.count(), 0);
    assert_eq!(row(&client, cancelled).await.0, "cancelled");
    assert_eq!(row(&client, later).await.0, "queued");

    // Sent messages cannot be cancelled; a cancelled one can be retried.
    client
        .execute(
            "UPDATE outpost.messages SET run_at = now() WHERE id = $1",
            &[&later.0],
        )
        .await
        .unwrap();
    assert_eq!(d.drain().await.unwrap(), 1);
    let r = client
        .query_one("SELECT outpost.cancel($1)", &[&later.0])
        .await
        .unwrap();
    assert_eq!(r.get::<_, Option<i64>>(0), None);
    let r = client
        .query_one("SELECT outpost.retry($1)", &[&cancelled.0])
        .await
        .unwrap();
    assert_eq!(r.get::<_, Option<i64>>(0), Some(cancelled.0));
    assert_eq!(d.drain().await.unwrap(), 1);
    assert_eq!(row(&client, cancelled).await.0, "sent");
}

#[tokio::test]
async fn higher_priority_is_claimed_first() {
    let db = TestDb::new().await;
    let client = db.client().await;
    let low = db.email(&client, "low@example.com").await;
    let mut urgent = NewMessage::new(Kind::Email);
    urgent.to_address = Some("urgent@example.com".into());
    urgent.priority = 10;
    let urgent = enqueue(&client, &urgent).await.unwrap();
    let config = db.config(&[("OUTPOST__DISPATCH__BATCH_SIZE", "1")]);
    let recorder = Recorder::accepting("rec");
    let d = db.dispatcher(&config, channels(&recorder), "w");
    d.run_once().await.unwrap();
    assert_eq!(row(&client, urgent).await.0, "sent");
    assert_eq!(row(&client, low).await.0, "queued");
}

#[tokio::test]
async fn a_repeated_idempotency_key_returns_the_first_id() {
    let db = TestDb::new().await;
    let client = db.client().await;
    let first: i64 = common::scalar(&client, "SELECT outpost.send_sms('Code 1234', to_address => '+353861234567', idempotency_key => 'otp-1')", &[]).await;
    let second: i64 = common::scalar(&client, "SELECT outpost.send_sms('Code 9999', to_address => '+353861234568', idempotency_key => 'otp-1')", &[]).await;
    assert_eq!(first, second);
    let mut m = NewMessage::new(Kind::Sms);
    m.to_address = Some("+1".into());
    m.idempotency_key = Some("otp-1".into());
    assert_eq!(enqueue(&client, &m).await.unwrap(), MessageId(first));
    let (n, body): (i64, String) = {
        let r = client
            .query_one("SELECT count(*), min(body) FROM outpost.messages", &[])
            .await
            .unwrap();
        (r.get(0), r.get(1))
    };
    assert_eq!((n, body.as_str()), (1, "Code 1234"));
}

#[tokio::test]
async fn an_expired_lease_is_rescued_and_marked_as_maybe_sent() {
    let db = TestDb::new().await;
    let client = db.client().await;
    let id = db.email(&client, "a@example.com").await;
    let spent = {
        let mut m = NewMessage::new(Kind::Email);
        m.to_address = Some("b@example.com".into());
        m.max_attempts = Some(1);
        enqueue(&client, &m).await.unwrap()
    };
    let recorder = Recorder::accepting("rec");
    let config = db.config(&[]);
    let crashed = db.dispatcher(&config, channels(&recorder), "crashed");
    // The worker claims and then "dies": nothing is recorded.
    let claimed = crashed.claim(10, &Kind::ALL).await.unwrap();
    assert_eq!(claimed.len(), 2);
    let other = db.dispatcher(&config, channels(&recorder), "other");
    assert_eq!(
        other.rescue().await.unwrap().requeued,
        0,
        "live leases are left alone"
    );
    assert_eq!(
        other.run_once().await.unwrap(),
        0,
        "leased rows are not claimed twice"
    );

    client
        .execute(
            "UPDATE outpost.messages SET leased_until = now() - interval '1 second'",
            &[],
        )
        .await
        .unwrap();
    let report = other.rescue().await.unwrap();
    assert_eq!((report.requeued, report.failed), (1, 1));
    let (status, attempts, error) = row(&client, id).await;
    assert_eq!((status.as_str(), attempts), ("queued", 1));
    assert!(error.unwrap().contains("may have been sent"));
    let (status, _, error) = row(&client, spent).await;
    assert_eq!(status, "failed");
    assert!(error.unwrap().contains("no attempts left"));
    let unknown: i64 = common::scalar(
        &client,
        "SELECT count(*) FROM outpost.attempts WHERE outcome = 'unknown' AND worker = 'crashed'",
        &[],
    )
    .await;
    assert_eq!(unknown, 2);

    // The dead worker's late outcome is not applied; the rescued row is sent once more.
    let late = crashed
        .deliver(claimed.into_iter().find(|m| m.id == id).unwrap(), None)
        .await;
    let recorded = crashed.record(&[late]).await.unwrap();
    assert_eq!((recorded.applied, recorded.lost), (0, 1));
    assert_eq!(row(&client, id).await.0, "queued");
    assert_eq!(other.run_once().await.unwrap(), 1);
    let (status, attempts, _) = row(&client, id).await;
    assert_eq!((status.as_str(), attempts), ("sent", 2));
}

/// One e-mail, claimed by worker "w" (its send not yet made).
async fn one_claimed() -> (
    TestDb,
    tokio_postgres::Client,
    MessageId,
    Arc<Dispatcher>,
    ClaimedMessage,
) {
    let db = TestDb::new().await;
    let client = db.client().await;
    let id = db.email(&client, "a@example.com").await;
    let recorder = Recorder::accepting("rec");
    let d = db.dispatcher(&db.config(&[]), channels(&recorder), "w");
    let claimed = d.claim(1, &Kind::ALL).await.unwrap().remove(0);
    (db, client, id, d, claimed)
}

#[tokio::test]
async fn an_outcome_after_the_lease_expired_is_applied_while_nobody_took_over() {
    let (_db, client, id, d, claimed) = one_claimed().await;
    let outcome = d.deliver(claimed, None).await;
    // The lease runs out after the send, before the outcome is written, and
    // no rescuer or other worker has touched the row: the outcome is the truth.
    client
        .execute(
            "UPDATE outpost.messages SET leased_until = now() - interval '1 second'",
            &[],
        )
        .await
        .unwrap();
    let recorded = d.record(&[outcome]).await.unwrap();
    assert_eq!((recorded.applied, recorded.lost), (1, 0));
    assert_eq!(row(&client, id).await.0, "sent");
    let r = client
        .query_one(
            "SELECT outcome, applied FROM outpost.attempts WHERE message_id = $1",
            &[&id.0],
        )
        .await
        .unwrap();
    assert_eq!(
        (r.get::<_, String>(0), r.get::<_, bool>(1)),
        ("sent".into(), true)
    );
}

#[tokio::test]
async fn an_outcome_for_a_message_deleted_mid_send_leaves_no_orphan_attempt() {
    let (_db, client, id, d, claimed) = one_claimed().await;
    let outcome = d.deliver(claimed, None).await;
    client
        .execute("DELETE FROM outpost.messages WHERE id = $1", &[&id.0])
        .await
        .unwrap();
    assert_eq!(d.record(&[outcome]).await.unwrap().applied, 0);
    let attempts: i64 = common::scalar(&client, "SELECT count(*) FROM outpost.attempts", &[]).await;
    assert_eq!(attempts, 0);
}

#[tokio::test]
async fn a_panicking_channel_fails_the_row_not_the_daemon() {
    let db = TestDb::new().await;
    let client = db.client().await;
    let boom = db.email(&client, "boom@example.com").await;
    let fine = db.email(&client, "fine@example.com").await;
    let recorder = Recorder::with_rule("rec", |e| {
        if e.to.starts_with("boom") {
            panic!("provider library bug");
        }
        Ok(Delivery::default())
    });
    let d = db.dispatcher(&db.config(&[]), channels(&recorder), "w");
    assert_eq!(d.run_once().await.unwrap(), 2);
    let (status, _, error) = row(&client, boom).await;
    assert_eq!(status, "failed");
    assert!(error.unwrap().contains("panicked"));
    assert_eq!(row(&client, fine).await.0, "sent");
}

#[tokio::test]
async fn per_kind_limits_bound_concurrent_sends() {
    let db = TestDb::new().await;
    let client = db.client().await;
    client
        .execute(
            "INSERT INTO outpost.messages (kind, to_address, body)
             SELECT 'sms', '+35386' || g, 'x' FROM generate_series(1, 20) g",
            &[],
        )
        .await
        .unwrap();
    let config = db.config(&[("OUTPOST__DISPATCH__KIND_CONCURRENCY__SMS", "3")]);
    let active = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let peak = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    struct Slow(
        Arc<std::sync::atomic::AtomicUsize>,
        Arc<std::sync::atomic::AtomicUsize>,
    );
    #[async_trait::async_trait]
    impl Channel for Slow {
        fn name(&self) -> &str {
            "slow"
        }
        async fn send(&self, _: &outpost::channel::Envelope) -> Result<Delivery, SendError> {
            use std::sync::atomic::Ordering::SeqCst;
            let now = self.0.fetch_add(1, SeqCst) + 1;
            self.1.fetch_max(now, SeqCst);
            tokio::time::sleep(Duration::from_millis(50)).await;
            self.0.fetch_sub(1, SeqCst);
            Ok(Delivery::default())
        }
    }
    let d = db.dispatcher(
        &config,
        Channels::with_default_for_all(Arc::new(Slow(active, peak.clone()))),
        "w",
    );
    assert_eq!(d.drain().await.unwrap(), 20);
    let peak = peak.load(std::sync::atomic::Ordering::SeqCst);
    // Exactly the limit: never more, and sends do run side by side.
    assert_eq!(peak, 3, "peak concurrency");
    let ids: HashSet<String> = client
        .query("SELECT status FROM outpost.messages", &[])
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(ids, HashSet::from(["sent".to_owned()]));
}

#[tokio::test]
async fn recipients_can_come_from_the_applications_own_view() {
    let db = TestDb::new().await;
    let client = db.client().await;
    client
        .batch_execute(
            "CREATE TABLE public.app_users (id int PRIMARY KEY, mail text, mobile text, lang text);
             INSERT INTO public.app_users VALUES (1, 'ann@example.com', '+353861234567', 'ga');
             CREATE VIEW public.outpost_recipients AS
               SELECT id::text AS user_id, mail AS email, mobile AS phone, lang AS locale,
                      NULL::text AS timezone, NULL::text AS tenant,
                      NULL::text AS push_named_user, NULL::text AS name
               FROM public.app_users;",
        )
        .await
        .unwrap();
    let sms = client
        .query_one("SELECT outpost.send_sms('hi', to_user => '1')", &[])
        .await
        .unwrap()
        .get::<_, i64>(0);
    let config = db.config(&[("OUTPOST__DATABASE__RECIPIENTS", "public.outpost_recipients")]);
    let recorder = Recorder::accepting("rec");
    let d = db.dispatcher(&config, channels(&recorder), "w");
    assert_eq!(d.run_once().await.unwrap(), 1);
    assert_eq!(row(&client, MessageId(sms)).await.0, "sent");
    assert_eq!(recorder.sent.lock().unwrap()[0].2, "+353861234567");

    let unknown = client
        .query_one("SELECT outpost.send_sms('hi', to_user => '2')", &[])
        .await
        .unwrap()
        .get::<_, i64>(0);
    d.run_once().await.unwrap();
    assert_eq!(
        row(&client, MessageId(unknown)).await.2.as_deref(),
        Some("unknown recipient: user \"2\" is not in public.outpost_recipients")
    );
}

/// A dispatcher with a one-second lease.
fn short_lease(db: &TestDb, recorder: &Arc<Recorder>, worker: &str) -> Arc<Dispatcher> {
    let config = db.config(&[
        ("OUTPOST__DISPATCH__LEASE", "1s"),
        ("OUTPOST__DISPATCH__SEND_TIMEOUT", "500ms"),
    ]);
    db.dispatcher(&config, channels(recorder), worker)
}

#[tokio::test]
async fn a_send_never_begins_after_its_lease_ran_out() {
    let db = TestDb::new().await;
    let client = db.client().await;
    let rescued = db.email(&client, "a@example.com").await;
    let recorder = Recorder::accepting("rec");
    let stalled = short_lease(&db, &recorder, "stalled");
    let claimed = stalled.claim(10, &Kind::ALL).await.unwrap().remove(0);
    // The worker stalls past its lease (as under SIGSTOP); another rescues
    // the message and sends it.
    lease_expired(&client).await;
    let other = short_lease(&db, &recorder, "other");
    assert_eq!(other.rescue().await.unwrap().requeued, 1);
    assert_eq!(other.run_once().await.unwrap(), 1);
    assert_eq!(recorder.count(), 1);
    // Resumed, the stalled worker does not send.
    let late = stalled.deliver(claimed, None).await;
    assert_eq!(recorder.count(), 1, "sent after the lease was lost");
    let recorded = stalled.record(&[late]).await.unwrap();
    assert_eq!((recorded.applied, recorded.lost), (0, 0));
    let (status, attempts, _) = row(&client, rescued).await;
    assert_eq!((status.as_str(), attempts), ("sent", 2));

    // Stalled past its lease with nobody taking over: still not sent, and the
    // message goes straight back to the queue with its attempt refunded.
    let alone = db.email(&client, "b@example.com").await;
    let claimed = stalled.claim(10, &Kind::ALL).await.unwrap().remove(0);
    lease_expired(&client).await;
    let late = stalled.deliver(claimed, None).await;
    assert_eq!(recorder.count(), 1);
    stalled.record(&[late]).await.unwrap();
    let (status, attempts, error) = row(&client, alone).await;
    assert_eq!((status.as_str(), attempts), ("queued", 0));
    assert!(
        error
            .unwrap()
            .contains("lease ran out before the send began")
    );
    assert_eq!(other.run_once().await.unwrap(), 1);
    assert_eq!(recorder.per_message().get(&alone), Some(&1));
}

/// Waits until every lease held in the database has run out (the workers'
/// own deadlines, taken before their claims, ran out earlier).
async fn lease_expired(client: &tokio_postgres::Client) {
    common::wait_until(
        client,
        "SELECT count(*) FROM outpost.messages WHERE status = 'sending' AND leased_until >= now()",
        Duration::from_secs(10),
        |n| n == 0,
    )
    .await;
}

#[tokio::test]
async fn a_late_outcome_never_replaces_the_unknown_marker() {
    let db = TestDb::new().await;
    let client = db.client().await;
    let id = db.email(&client, "a@example.com").await;
    let recorder = Recorder::accepting("rec");
    let slow = short_lease(&db, &recorder, "slow");
    let claimed = slow.claim(10, &Kind::ALL).await.unwrap().remove(0);
    // Sent, but the outcome is written only after the rescuer gave up on it.
    let outcome = slow.deliver(claimed, None).await;
    lease_expired(&client).await;
    let other = short_lease(&db, &recorder, "other");
    assert_eq!(other.rescue().await.unwrap().requeued, 1);
    let recorded = slow.record(&[outcome]).await.unwrap();
    assert_eq!((recorded.applied, recorded.lost), (0, 1));
    let a = client
        .query_one(
            "SELECT outcome, late_outcome, provider_message_id, error, note
             FROM outpost.attempts WHERE message_id = $1 AND attempt = 1",
            &[&id.0],
        )
        .await
        .unwrap();
    assert_eq!(a.get::<_, String>(0), "unknown");
    assert_eq!(a.get::<_, Option<String>>(1).as_deref(), Some("sent"));
    assert_eq!(a.get::<_, Option<String>>(2), Some(format!("rec-{}", id.0)));
    assert!(a.get::<_, String>(3).contains("may have been sent"));
    assert!(
        a.get::<_, String>(4).contains(
            "worker slow reported sent after the rescuer had marked this attempt unknown"
        )
    );
    // The rescued message is sent again: a duplicate, and visibly so.
    assert_eq!(other.run_once().await.unwrap(), 1);
    let flagged: bool = common::scalar(
        &client,
        "SELECT possible_duplicate FROM outpost.message_status WHERE id = $1",
        &[&id.0],
    )
    .await;
    assert!(flagged);
    let report = outpost::status::message_report(&client, id)
        .await
        .unwrap()
        .unwrap();
    assert!(report.contains("possible duplicate"), "{report}");
    assert!(report.contains("unknown (late report: sent)"), "{report}");
}

/// Outpost's connections never JIT-compile, even where the server's default
/// would: planned per execution, a claim on a large table would otherwise be
/// compiled on every call (1.4 s per 500-row claim at 10 million messages).
#[tokio::test]
async fn connections_plan_every_execution_without_jit() {
    let db = TestDb::new().await;
    let admin = db.client().await;
    let name: String = common::scalar(&admin, "SELECT current_database()", &[]).await;
    admin
        .batch_execute(&format!(
            "ALTER DATABASE {name} SET jit = on; ALTER DATABASE {name} SET jit_above_cost = 0"
        ))
        .await
        .unwrap();
    let settings = "SELECT current_setting('jit'), current_setting('plan_cache_mode')";
    // A connection without Outpost's session options sees the default.
    let (plain, connection) = tokio_postgres::connect(&db.url, tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(connection);
    let row = plain.query_one(settings, &[]).await.unwrap();
    assert_eq!(row.get::<_, String>(0), "on", "the database default");
    let pool = outpost::db::pool(&db.url, 1).unwrap();
    let pooled = pool.get().await.unwrap();
    let row = pooled.query_one(settings, &[]).await.unwrap();
    assert_eq!(row.get::<_, String>(0), "off");
    assert_eq!(row.get::<_, String>(1), "force_custom_plan");
    let direct = outpost::db::connect(&db.url).await.unwrap();
    let row = direct.query_one(settings, &[]).await.unwrap();
    assert_eq!(row.get::<_, String>(0), "off");
}

/// The claim is planned once per connection (a generic plan, in its own
/// transaction), not on every call: planning it cost more than running it
/// for one message. Everything else on the connection is still planned per
/// execution.
#[tokio::test]
async fn the_claim_keeps_one_generic_plan_per_connection() {
    let db = TestDb::new().await;
    let client = db.client().await;
    for i in 0..3 {
        db.email(&client, &format!("g{i}@example.com")).await;
    }
    let config = db.config(&[("OUTPOST__DATABASE__POOL_SIZE", "1")]);
    let recorder = Recorder::accepting("rec");
    let d = db.dispatcher(
        &config,
        Channels::with_default_for_all(recorder.clone() as Arc<dyn Channel>),
        "plan-once",
    );
    for _ in 0..3 {
        assert_eq!(d.claim(1, &Kind::ALL).await.unwrap().len(), 1);
    }
    let conn = d.pool().get().await.unwrap();
    let (generic, custom): (i64, i64) = {
        let r = conn
            .query_one(
                "SELECT generic_plans, custom_plans FROM pg_prepared_statements
                 WHERE statement LIKE '-- claim:%'",
                &[],
            )
            .await
            .unwrap();
        (r.get(0), r.get(1))
    };
    assert_eq!(
        (generic, custom),
        (3, 0),
        "three claims, one generic plan reused"
    );
    let mode: String = conn
        .query_one("SELECT current_setting('plan_cache_mode')", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(
        mode, "force_custom_plan",
        "only the claim's transaction changes it"
    );
}
