//! Crash safety: 20,000 messages drained through an HTTP fake while the
//! daemon is killed with SIGKILL five times and restarted. Nothing is lost;
//! duplicates are counted and bounded by what was in flight at each kill.

mod common;

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

async fn one(client: &tokio_postgres::Client, sql: &str) -> i64 {
    client.query_one(sql, &[]).await.unwrap().get(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_loses_nothing_and_duplicates_stay_bounded() {
    let db = TestDb::new().await;
    let client = db.client().await;
    outpost::bench::enqueue_bulk(&client, 20_000).await.unwrap();
    let (addr, seen) = outpost::bench::fakes::http_fake(Duration::from_millis(3))
        .await
        .unwrap();
    let fake = format!("http://{addr}");
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
    while one(
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
    let unknown = one(
        &client,
        "SELECT count(*) FROM outpost.attempts WHERE outcome = 'unknown'",
    )
    .await;
    assert!(unknown >= duplicated.len() as i64);
    eprintln!(
        "crash test: 5 SIGKILLs, {in_flight_at_kills} messages in flight at the kills, {duplicates} duplicates seen by the provider, {unknown} attempts marked unknown"
    );
}
