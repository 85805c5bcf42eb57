//! Cron housekeeping (batched purges, one daemon per tick) and recurring
//! notifications (exactly once per firing, caught up once).

use crate::common;

use std::sync::Arc;

use common::TestDb;
use common::recorder::Recorder;
use outpost::channel::{Channel, Channels};
use outpost::housekeeping::{Task, claim_tick, run_task};

fn dispatcher(
    db: &TestDb,
    overrides: &[(&str, &str)],
) -> (
    Arc<outpost::dispatch::Dispatcher>,
    outpost::housekeeping::Settings,
) {
    let config = db.config(overrides);
    let recorder = Recorder::accepting("rec");
    let d = db.dispatcher(
        &config,
        Channels::with_default_for_all(recorder as Arc<dyn Channel>),
        "hk",
    );
    (d, config.housekeeping.clone().unwrap())
}

#[tokio::test]
async fn purges_remove_only_old_finished_rows_in_batches() {
    let db = TestDb::new().await;
    let client = db.client().await;
    client
        .batch_execute(
            "INSERT INTO outpost.messages (kind, to_address, status, attempts, created_at, finished_at)
               SELECT 'email', 'old@example.com', 'delivered', 1, now() - interval '41 days', now() - interval '40 days' FROM generate_series(1, 35);
             INSERT INTO outpost.messages (kind, to_address, status, attempts, created_at, finished_at)
               SELECT 'email', 'new@example.com', 'delivered', 1, now() - interval '2 days', now() - interval '1 day' FROM generate_series(1, 5);
             -- Created before the cutoff, finished after it: kept.
             INSERT INTO outpost.messages (kind, to_address, status, attempts, created_at, finished_at)
               SELECT 'email', 'late@example.com', 'delivered', 1, now() - interval '60 days', now() - interval '1 day' FROM generate_series(1, 3);
             INSERT INTO outpost.messages (kind, to_address, created_at, run_at)
               SELECT 'email', 'waiting@example.com', now() - interval '60 days', now() + interval '1 day' FROM generate_series(1, 5);
             INSERT INTO outpost.attempts (message_id, attempt, worker, started_at, outcome)
               SELECT id, 1, 'w', now(), 'sent' FROM outpost.messages WHERE status = 'delivered';
             INSERT INTO outpost.events (provider, provider_event_id, event, received_at)
               SELECT 'sendgrid', 'old-' || g, 'open', now() - interval '100 days' FROM generate_series(1, 12) g;
             INSERT INTO outpost.events (provider, provider_event_id, event) VALUES ('sendgrid', 'fresh', 'open');
             INSERT INTO outpost.inbound_emails (dedupe_key, mode, received_at) VALUES ('a', 'parsed', now() - interval '100 days'), ('b', 'parsed', now());",
        )
        .await
        .unwrap();
    let (d, settings) = dispatcher(&db, &[("OUTPOST__HOUSEKEEPING__BATCH_SIZE", "10")]);
    assert_eq!(
        run_task(d.pool(), &settings, Task::PurgeMessages)
            .await
            .unwrap(),
        35
    );
    assert_eq!(
        common::count(&client, "SELECT count(*) FROM outpost.messages").await,
        13
    );
    assert_eq!(
        common::count(
            &client,
            "SELECT count(*) FROM outpost.messages WHERE to_address = 'waiting@example.com'"
        )
        .await,
        5
    );
    assert_eq!(
        common::count(&client, "SELECT count(*) FROM outpost.attempts").await,
        8,
        "attempts went with their messages"
    );
    assert_eq!(
        run_task(d.pool(), &settings, Task::PurgeEvents)
            .await
            .unwrap(),
        12
    );
    assert_eq!(
        common::count(&client, "SELECT count(*) FROM outpost.events").await,
        1
    );
    assert_eq!(
        run_task(d.pool(), &settings, Task::PurgeInbound)
            .await
            .unwrap(),
        1
    );
    assert_eq!(
        common::count(&client, "SELECT count(*) FROM outpost.inbound_emails").await,
        1
    );
    // Nothing left to purge.
    assert_eq!(
        run_task(d.pool(), &settings, Task::PurgeMessages)
            .await
            .unwrap(),
        0
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn each_tick_runs_on_one_daemon_only() {
    let db = TestDb::new().await;
    let tick = chrono::Utc::now();
    let mut handles = Vec::new();
    for i in 0..8 {
        let pool = outpost::db::pool(&db.url, 1).unwrap();
        handles.push(tokio::spawn(async move {
            claim_tick(&pool, "purge_messages", tick, &format!("d{i}"))
                .await
                .unwrap()
        }));
    }
    let mut won = 0;
    for h in handles {
        won += usize::from(h.await.unwrap());
    }
    assert_eq!(won, 1);
    let pool = outpost::db::pool(&db.url, 1).unwrap();
    assert!(
        !claim_tick(
            &pool,
            "purge_messages",
            tick - chrono::Duration::minutes(1),
            "late"
        )
        .await
        .unwrap()
    );
    assert!(
        claim_tick(
            &pool,
            "purge_messages",
            tick + chrono::Duration::minutes(1),
            "next"
        )
        .await
        .unwrap()
    );
    assert!(
        claim_tick(&pool, "purge_events", tick, "other job")
            .await
            .unwrap()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn schedules_fire_exactly_once_and_catch_up_once() {
    let db = TestDb::new().await;
    let client = db.client().await;
    client
        .batch_execute(
            r#"INSERT INTO outpost.schedules (name, cron, timezone, message, created_at) VALUES
                 ('digest', '*/5 * * * *', 'Europe/Dublin',
                  '{"kind": "email", "to_address": "ops@example.com", "subject": "Digest", "body": "Daily digest"}',
                  now() - interval '3 hours'),
                 ('broken', '* * * * *', 'UTC', '{"kind": "fax", "to_address": "x"}', now() - interval '1 hour'),
                 ('bad-cron', 'every day', 'UTC', '{"kind": "sms", "to_address": "+353861234567"}', now() - interval '1 hour'),
                 ('off', '* * * * *', 'UTC', '{"kind": "sms", "to_address": "+353861234567", "body": "x"}', now() - interval '1 hour');
               UPDATE outpost.schedules SET enabled = false WHERE name = 'off';"#,
        )
        .await
        .unwrap();
    // Four daemons tick at once.
    let mut handles = Vec::new();
    for _ in 0..4 {
        let pool = outpost::db::pool(&db.url, 1).unwrap();
        handles.push(tokio::spawn(async move {
            outpost::schedule::fire_due(&pool).await.unwrap()
        }));
    }
    let mut fired = 0;
    for h in handles {
        fired += h.await.unwrap();
    }
    // Three hours missed: one message, not 36.
    assert_eq!(fired, 1);
    let key: String =
        common::scalar(&client, "SELECT idempotency_key FROM outpost.messages", &[]).await;
    assert!(key.starts_with("schedule:digest:"), "{key}");
    // A restart (a new pass) fires nothing more until the next time comes.
    let pool = outpost::db::pool(&db.url, 1).unwrap();
    assert_eq!(outpost::schedule::fire_due(&pool).await.unwrap(), 0);
    assert_eq!(
        common::count(&client, "SELECT count(*) FROM outpost.messages").await,
        1
    );
    // Errors are recorded on the schedule, and do not stop the others.
    let errors = client
        .query("SELECT name, last_error FROM outpost.schedules WHERE last_error IS NOT NULL ORDER BY name", &[])
        .await
        .unwrap();
    assert_eq!(errors.len(), 2);
    assert!(
        errors[0]
            .get::<_, String>(1)
            .contains("invalid cron expression")
    );
    assert!(
        errors[1]
            .get::<_, String>(1)
            .contains("cannot insert the message")
    );
    // Moving the clock back one firing fires exactly one more.
    client
        .execute("UPDATE outpost.schedules SET last_fired_at = last_fired_at - interval '5 minutes' WHERE name = 'digest'", &[])
        .await
        .unwrap();
    assert_eq!(outpost::schedule::fire_due(&pool).await.unwrap(), 1);
    assert_eq!(
        common::count(&client, "SELECT count(*) FROM outpost.messages").await,
        1,
        "the same firing's key inserts nothing new"
    );
}

/// A schedule's message may carry a category (and so preferences and
/// one-click unsubscribe apply to what it fires).
#[tokio::test]
async fn a_schedule_sets_the_category_of_what_it_fires() {
    let db = TestDb::new().await;
    let client = db.client().await;
    client
        .batch_execute(
            r#"INSERT INTO outpost.schedules (name, cron, timezone, message, created_at) VALUES
                 ('weekly-news', '* * * * *', 'UTC',
                  '{"kind": "email", "to_address": "ops@example.com", "subject": "News", "body": "This week", "category": "newsletter"}',
                  now() - interval '5 minutes')"#,
        )
        .await
        .unwrap();
    let pool = outpost::db::pool(&db.url, 1).unwrap();
    assert_eq!(outpost::schedule::fire_due(&pool).await.unwrap(), 1);
    let category: Option<String> =
        common::scalar(&client, "SELECT category FROM outpost.messages", &[]).await;
    assert_eq!(category.as_deref(), Some("newsletter"));
}
