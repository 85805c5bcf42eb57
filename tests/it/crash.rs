//! Crash safety: 20,000 messages drained through an HTTP fake while the
//! daemon is killed with SIGKILL five times and restarted. Nothing is lost;
//! duplicates are counted and bounded by what was in flight at each kill.

use crate::common;

use std::time::{Duration, Instant};

use common::TestDb;
use common::daemon::Daemon;

fn start(db: &TestDb, fake: &str) -> Daemon {
    common::daemon::start(
        &db.url,
        fake,
        &[
            ("OUTPOST__DISPATCH__CONCURRENCY", "200"),
            ("OUTPOST__DISPATCH__KIND_CONCURRENCY__EMAIL", "200"),
            ("OUTPOST__HTTP__ENABLED", "false"),
        ],
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_loses_nothing_and_duplicates_stay_bounded() {
    let db = TestDb::new().await;
    let client = db.client().await;
    outpost_testkit::enqueue_bulk(&client, 20_000)
        .await
        .unwrap();
    let provider = common::fake::sendgrid(Duration::from_millis(3)).await;
    let (fake, seen) = (provider.uri.clone(), provider.seen.clone());
    // Every message that was in flight (claimed, outcome not recorded) at some kill.
    let mut in_flight = std::collections::HashSet::new();
    let mut daemon = start(&db, &fake);
    for kill in 0..5 {
        // Kill at a different moment each time, while work is under way.
        tokio::time::sleep(Duration::from_millis(400 + 250 * kill)).await;
        daemon.0.kill().unwrap();
        daemon.0.wait().unwrap();
        for row in client
            .query(
                "SELECT id FROM outpost.messages WHERE status = 'sending'",
                &[],
            )
            .await
            .unwrap()
        {
            in_flight.insert(row.get::<_, i64>(0));
        }
        daemon = start(&db, &fake);
    }
    let deadline = Instant::now() + Duration::from_secs(240);
    while common::count(
        &client,
        "SELECT count(*) FROM outpost.messages WHERE status IN ('queued', 'sending')",
    )
    .await
        > 0
    {
        assert!(Instant::now() < deadline, "the queue did not drain");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    drop(daemon);

    let statuses = client
        .query(
            "SELECT status, count(*) FROM outpost.messages GROUP BY 1",
            &[],
        )
        .await
        .unwrap();
    let counts: Vec<(String, i64)> = statuses.iter().map(|r| (r.get(0), r.get(1))).collect();
    // Every message is terminal; none failed here (the fake accepts all).
    assert_eq!(counts, vec![("sent".to_owned(), 20000)], "{counts:?}");
    let seen = seen.lock().unwrap().clone();
    let ids: Vec<i64> = client
        .query("SELECT id FROM outpost.messages", &[])
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    let missing = ids.iter().filter(|id| !seen.contains_key(id)).count();
    assert_eq!(missing, 0, "a sent message never reached the provider");
    let duplicated: Vec<i64> = seen
        .iter()
        .filter(|(_, n)| **n > 1)
        .map(|(id, _)| *id)
        .collect();
    let duplicates: u32 = seen.values().map(|&n| n - 1).sum();
    // Only a message in flight at a kill can be sent twice, and at most once more per kill.
    assert!(
        duplicated.iter().all(|id| in_flight.contains(id)),
        "a message not in flight at any kill was sent twice"
    );
    assert!(duplicates as usize <= in_flight.len() * 5);
    let in_flight_at_kills = in_flight.len();
    // Every possible duplicate is visible in the audit trail.
    let unknown = common::count(
        &client,
        "SELECT count(*) FROM outpost.attempts WHERE outcome = 'unknown'",
    )
    .await;
    assert!(unknown >= duplicated.len() as i64);
    // Each duplicate has an attempt still marked 'unknown' (a late outcome
    // never replaces it), and message_status calls it a possible duplicate.
    let marked: std::collections::HashSet<i64> = client
        .query(
            "SELECT DISTINCT a.message_id FROM outpost.attempts a
             JOIN outpost.message_status s ON s.id = a.message_id
             WHERE a.outcome = 'unknown' AND s.possible_duplicate",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert!(
        duplicated.iter().all(|id| marked.contains(id)),
        "a duplicate lacks its unknown attempt"
    );
    eprintln!(
        "crash test: 5 SIGKILLs, {in_flight_at_kills} messages in flight at the kills, {duplicates} duplicates seen by the provider, {unknown} attempts marked unknown"
    );
}

/// Waits until no message is queued or sending.
async fn drained(client: &tokio_postgres::Client, limit: Duration) {
    common::wait_until(
        client,
        "SELECT count(*) FROM outpost.messages WHERE status IN ('queued', 'sending')",
        limit,
        |n| n == 0,
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_provider_causes_no_duplicates() {
    let db = TestDb::new().await;
    let client = db.client().await;
    outpost_testkit::enqueue_bulk(&client, 40).await.unwrap();
    // Each send takes 1 s, close to the send timeout and the lease; twice as
    // many messages may be in flight as e-mails may be sent at once.
    let provider = common::fake::sendgrid(Duration::from_millis(1000)).await;
    let seen = provider.seen.clone();
    let daemon = common::daemon::start(
        &db.url,
        &provider.uri,
        &[
            ("OUTPOST__DISPATCH__CONCURRENCY", "16"),
            ("OUTPOST__DISPATCH__KIND_CONCURRENCY__EMAIL", "8"),
            ("OUTPOST__DISPATCH__LEASE", "1200ms"),
            ("OUTPOST__DISPATCH__SEND_TIMEOUT", "1100ms"),
            ("OUTPOST__DISPATCH__RESCUE_INTERVAL", "100ms"),
            ("OUTPOST__HTTP__ENABLED", "false"),
        ],
    );
    drained(&client, Duration::from_secs(60)).await;
    drop(daemon);
    let seen = seen.lock().unwrap().clone();
    let duplicates: u32 = seen.values().map(|&n| n - 1).sum();
    assert_eq!((seen.len(), duplicates), (40, 0));
    assert_eq!(
        common::count(
            &client,
            "SELECT count(*) FROM outpost.messages WHERE status = 'sent'"
        )
        .await,
        40
    );
    assert_eq!(
        common::count(
            &client,
            "SELECT count(*) FROM outpost.attempts WHERE NOT applied OR outcome = 'unknown'"
        )
        .await,
        0,
        "no lease was lost and no outcome went unapplied"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_paused_daemon_sends_nothing_after_losing_its_leases() {
    let db = TestDb::new().await;
    let client = db.client().await;
    outpost_testkit::enqueue_bulk(&client, 40).await.unwrap();
    let slow = common::fake::sendgrid(Duration::from_secs(2)).await;
    let seen_by_paused = slow.seen.clone();
    let settings = [
        ("OUTPOST__DISPATCH__CONCURRENCY", "16"),
        ("OUTPOST__DISPATCH__KIND_CONCURRENCY__EMAIL", "8"),
        ("OUTPOST__DISPATCH__LEASE", "3s"),
        ("OUTPOST__DISPATCH__SEND_TIMEOUT", "2500ms"),
        ("OUTPOST__DISPATCH__RESCUE_INTERVAL", "100ms"),
        ("OUTPOST__HTTP__ENABLED", "false"),
    ];
    let paused = common::daemon::start(&db.url, &slow.uri, &settings);
    // Pause it (as a stalled VM or a debugger would) once its sends are out.
    let deadline = Instant::now() + Duration::from_secs(20);
    while slow.arrived.load(std::sync::atomic::Ordering::SeqCst) < 8 {
        assert!(
            Instant::now() < deadline,
            "the daemon never had 8 sends out"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    let pid = paused.0.id().to_string();
    let signal = |sig: &str| {
        let status = std::process::Command::new("kill")
            .args([sig, &pid])
            .status()
            .unwrap();
        assert!(status.success());
    };
    signal("-STOP");
    // Another daemon rescues its messages when the leases run out, and sends everything.
    let fast = common::fake::sendgrid(Duration::from_millis(5)).await;
    let seen_by_rescuer = fast.seen.clone();
    let rescuer = common::daemon::start(&db.url, &fast.uri, &settings);
    drained(&client, Duration::from_secs(60)).await;
    signal("-CONT");
    // The resumed daemon gets its old answers back, and must start nothing.
    let deadline = Instant::now() + Duration::from_secs(20);
    while common::count(
        &client,
        "SELECT count(*) FROM outpost.attempts WHERE late_outcome IS NOT NULL",
    )
    .await
        < 8
    {
        assert!(
            Instant::now() < deadline,
            "the resumed daemon's late outcomes never arrived"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    tokio::time::sleep(Duration::from_millis(1500)).await;
    drop(paused);
    drop(rescuer);
    let by_paused = seen_by_paused.lock().unwrap().clone();
    assert_eq!(
        by_paused.values().sum::<u32>(),
        8,
        "the paused daemon sent only what it had begun before the pause"
    );
    assert_eq!(seen_by_rescuer.lock().unwrap().len(), 40);
    // The eight sent twice say so: 'unknown' kept, the late report beside it.
    assert_eq!(
        common::count(&client, "SELECT count(*) FROM outpost.attempts WHERE outcome = 'unknown' AND late_outcome IS NOT NULL").await,
        8
    );
    let flagged: Vec<i64> = client
        .query(
            "SELECT id FROM outpost.message_status WHERE possible_duplicate ORDER BY id",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    let mut twice: Vec<i64> = by_paused.keys().copied().collect();
    twice.sort_unstable();
    assert_eq!(flagged, twice);
}
