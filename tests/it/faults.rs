//! Provider faults: a fake answering about 20% 500, 10% 429 with
//! Retry-After, 5% hangs and 5% dropped connections; the circuit breaker;
//! e-mail failover.

use crate::common;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use common::TestDb;
use tokio_util::sync::CancellationToken;
use wiremock::matchers::{method, path};
use wiremock::{Match, Mock, MockServer, Request, Respond, ResponseTemplate};

/// What the fake does with request number n.
#[derive(Clone, Copy)]
enum Fault {
    /// 20% 500, 10% 429 (Retry-After: 1), 5% hang, 5% drop, 60% 202.
    Mixed,
    AlwaysFail,
    /// A coin toss per request: 500 or 202, either after 40 ms. (Answering
    /// the failures at once made the first 40 or more outcomes nearly all
    /// failures, which a rate breaker rightly takes for a failing provider:
    /// the test then measured the race, not the rate.)
    Coin,
}

/// Counts every request; with `drop`, every 20th one (5 %) is answered by
/// resetting the connection. Mounted first, so it sees each request once.
struct Arrivals {
    total: Arc<AtomicU64>,
    drop: bool,
}

impl Match for Arrivals {
    fn matches(&self, _: &Request) -> bool {
        let n = self.total.fetch_add(1, Ordering::SeqCst);
        self.drop && n % 20 == 7
    }
}

/// The answers of the requests that are not dropped.
struct Answers {
    fault: Fault,
    n: AtomicU64,
}

impl Respond for Answers {
    fn respond(&self, _: &Request) -> ResponseTemplate {
        let n = self.n.fetch_add(1, Ordering::SeqCst);
        let failed = ResponseTemplate::new(500);
        let accepted = ResponseTemplate::new(202).insert_header("X-Message-Id", "ok");
        match self.fault {
            Fault::AlwaysFail => failed,
            Fault::Coin if rand::random::<bool>() => failed.set_delay(Duration::from_millis(40)),
            Fault::Coin => accepted.set_delay(Duration::from_millis(40)),
            // Of the 19 in 20 not dropped: 4 fail, 2 are rate-limited, 1 hangs.
            Fault::Mixed => match n % 19 {
                0..=3 => failed,
                4..=5 => ResponseTemplate::new(429).insert_header("Retry-After", "1"),
                6 => accepted.set_delay(Duration::from_secs(30)),
                _ => accepted,
            },
        }
    }
}

/// A SendGrid fake (wiremock) misbehaving as `fault` says; returns its URL
/// and the count of requests it received.
async fn chaos(fault: Fault) -> (String, Arc<AtomicU64>, MockServer) {
    let server = MockServer::builder()
        .disable_request_recording()
        .start()
        .await;
    let total = Arc::new(AtomicU64::new(0));
    Mock::given(Arrivals {
        total: total.clone(),
        drop: matches!(fault, Fault::Mixed),
    })
    .respond_with_err(|_: &Request| {
        std::io::Error::new(std::io::ErrorKind::ConnectionReset, "dropped by the fake")
    })
    .with_priority(1)
    .mount(&server)
    .await;
    Mock::given(method("POST"))
        .and(path("/v3/mail/send"))
        .respond_with(Answers {
            fault,
            n: AtomicU64::new(0),
        })
        .with_priority(2)
        .mount(&server)
        .await;
    (server.uri(), total, server)
}

fn env(url: &str, extra: &[(&str, &str)]) -> Vec<(String, String)> {
    let mut env: Vec<(String, String)> = [
        ("OUTPOST__EMAIL__BACKEND", "sendgrid"),
        ("OUTPOST__EMAIL__SENDGRID__API_KEY", "SG.faults"),
        ("OUTPOST__EMAIL__SENDGRID__BASE_URL", url),
        ("OUTPOST__EMAIL__FROM", "Faults <faults@example.com>"),
        ("OUTPOST__DISPATCH__SEND_TIMEOUT", "1s"),
        ("OUTPOST__DISPATCH__LEASE", "5s"),
        ("OUTPOST__DISPATCH__POLL_INTERVAL", "100ms"),
        ("OUTPOST__RETRY__BASE", "50ms"),
        ("OUTPOST__RETRY__CAP", "200ms"),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    env.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    env
}

async fn insert(client: &tokio_postgres::Client, n: i64) {
    client
        .execute(
            "INSERT INTO outpost.messages (kind, to_address, subject, body, max_attempts)
             SELECT 'email', 'u' || g || '@example.com', 'Faults', 'x', 10 FROM generate_series(1, $1::bigint) g",
            &[&n],
        )
        .await
        .unwrap();
}

/// Runs the real claim loop until nothing is queued or sending.
async fn run_until_done(db: &TestDb, env: Vec<(String, String)>, limit: Duration) {
    let config = db.config_env(env);
    let (channels, _) = db.channels(&config);
    let d = db.dispatcher(&config, channels, "faults");
    let stop = CancellationToken::new();
    let runner = tokio::spawn(outpost::dispatch::runner::run(
        d,
        Arc::new(tokio::sync::Notify::new()),
        stop.clone(),
    ));
    let client = db.client().await;
    let deadline = Instant::now() + limit;
    while common::count(
        &client,
        "SELECT count(*) FROM outpost.messages WHERE status IN ('queued', 'sending')",
    )
    .await
        > 0
    {
        assert!(Instant::now() < deadline, "messages did not finish");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    stop.cancel();
    runner.await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_message_ends_sent_or_failed_and_retry_after_is_honoured() {
    let (url, requests, _fake) = chaos(Fault::Mixed).await;
    let db = TestDb::new().await;
    let client = db.client().await;
    insert(&client, 200).await;
    run_until_done(
        &db,
        env(&url, &[("OUTPOST__DISPATCH__BREAKER_MIN_CALLS", "0")]),
        Duration::from_secs(120),
    )
    .await;
    let sent = common::count(
        &client,
        "SELECT count(*) FROM outpost.messages WHERE status = 'sent'",
    )
    .await;
    let failed = common::count(&client, "SELECT count(*) FROM outpost.messages WHERE status = 'failed' AND last_error LIKE 'gave up after 10 attempts%'").await;
    assert_eq!(sent + failed, 200, "every message is terminal per policy");
    assert!(sent > 150, "{sent} sent");
    assert!(
        requests.load(Ordering::SeqCst) > 200,
        "faults caused retries"
    );
    // Each kind of fault was seen and classified as transient.
    for (code, what) in [("500", "500s"), ("429", "429s")] {
        let n = common::count(&client, &format!("SELECT count(*) FROM outpost.attempts WHERE provider_code = '{code}' AND outcome = 'retry'")).await;
        assert!(n > 0, "no retried {what}");
    }
    let timeouts = common::count(&client, "SELECT count(*) FROM outpost.attempts WHERE error LIKE '%did not answer within%' OR error LIKE '%timed out%'").await;
    assert!(timeouts > 0, "no timeouts");
    let drops = common::count(
        &client,
        "SELECT count(*) FROM outpost.attempts WHERE error LIKE 'SendGrid unreachable%'",
    )
    .await;
    assert!(drops > 0, "no dropped connections");
    // After a 429 with Retry-After: 1, the next attempt waited at least a second.
    let early = common::count(
        &client,
        "SELECT count(*) FROM outpost.attempts a JOIN outpost.attempts b
           ON b.message_id = a.message_id AND b.attempt = a.attempt + 1
         WHERE a.provider_code = '429' AND b.started_at < a.finished_at + interval '950 ms'",
    )
    .await;
    assert_eq!(early, 0, "a retry came before Retry-After");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_open_circuit_stops_hammering_and_spends_no_attempts() {
    let (url, requests, _fake) = chaos(Fault::AlwaysFail).await;
    let db = TestDb::new().await;
    let client = db.client().await;
    insert(&client, 50).await;
    // One send at a time, so the count of requests is exact.
    let config = db.config_env(env(
        &url,
        &[
            ("OUTPOST__DISPATCH__BREAKER_MIN_CALLS", "5"),
            ("OUTPOST__DISPATCH__BREAKER_OPEN", "1h"),
            ("OUTPOST__DISPATCH__KIND_CONCURRENCY__EMAIL", "5"),
        ],
    ));
    let (channels, _) = db.channels(&config);
    let d = db.dispatcher(&config, channels, "breaker");
    // Each step claims five (the e-mail limit): the first five fail and open
    // the circuit (5 calls, all failed); the next 45 are deferred unsent.
    for _ in 0..10 {
        assert_eq!(d.run_once().await.unwrap(), 5);
    }
    assert_eq!(requests.load(Ordering::SeqCst), 5);
    assert_eq!(
        common::count(
            &client,
            "SELECT count(*) FROM outpost.messages WHERE status = 'queued'"
        )
        .await,
        50
    );
    assert_eq!(
        common::count(&client, "SELECT count(*) FROM outpost.attempts").await,
        5
    );
    assert_eq!(
        common::count(
            &client,
            "SELECT max(attempts)::bigint FROM outpost.messages"
        )
        .await,
        1
    );
    assert_eq!(common::count(&client, "SELECT count(*) FROM outpost.messages WHERE attempts = 0 AND last_error LIKE 'circuit open for provider sendgrid%'").await, 45);
    // Every deferral is counted on its message, where the audit trail sees it.
    assert_eq!(
        common::count(
            &client,
            "SELECT sum(deferrals)::bigint FROM outpost.messages WHERE attempts = 0"
        )
        .await,
        45
    );
    assert_eq!(
        common::count(
            &client,
            "SELECT count(*) FROM outpost.message_status WHERE deferrals = 1"
        )
        .await,
        45
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fallback_takes_over_while_the_primary_circuit_is_open() {
    let (url, requests, _fake) = chaos(Fault::AlwaysFail).await;
    let db = TestDb::new().await;
    let client = db.client().await;
    insert(&client, 20).await;
    run_until_done(
        &db,
        env(
            &url,
            &[
                ("OUTPOST__DISPATCH__BREAKER_MIN_CALLS", "3"),
                ("OUTPOST__DISPATCH__BREAKER_OPEN", "1h"),
                ("OUTPOST__EMAIL__FALLBACK", "console"),
                ("OUTPOST__DISPATCH__KIND_CONCURRENCY__EMAIL", "1"),
            ],
        ),
        Duration::from_secs(60),
    )
    .await;
    assert_eq!(
        common::count(
            &client,
            "SELECT count(*) FROM outpost.messages WHERE status = 'sent'"
        )
        .await,
        20
    );
    assert_eq!(requests.load(Ordering::SeqCst), 3);
    assert_eq!(
        common::count(
            &client,
            "SELECT count(*) FROM outpost.attempts WHERE outcome = 'sent' AND provider = 'console'"
        )
        .await,
        20
    );
    let noted = common::count(&client, "SELECT count(*) FROM outpost.attempts WHERE note LIKE 'sendgrid circuit open; sent through the fallback console%'").await;
    assert_eq!(noted, 20, "every message sent by the fallback says so");
    assert_eq!(common::count(&client, "SELECT count(*) FROM outpost.attempts WHERE provider = 'sendgrid' AND outcome = 'retry'").await, requests.load(Ordering::SeqCst) as i64);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_provider_failing_half_the_time_keeps_its_circuit_closed() {
    let (url, requests, _fake) = chaos(Fault::Coin).await;
    let db = TestDb::new().await;
    let client = db.client().await;
    client
        .execute(
            "INSERT INTO outpost.messages (kind, to_address, subject, body, max_attempts)
             SELECT 'email', 'u' || g || '@example.com', 'Coin', 'x', 40 FROM generate_series(1, 1000) g",
            &[],
        )
        .await
        .unwrap();
    // The breaker's settings are the defaults.
    run_until_done(
        &db,
        env(
            &url,
            &[
                ("OUTPOST__RETRY__BASE", "10ms"),
                ("OUTPOST__RETRY__CAP", "20ms"),
            ],
        ),
        Duration::from_secs(120),
    )
    .await;
    assert_eq!(
        common::count(
            &client,
            "SELECT count(*) FROM outpost.messages WHERE status = 'sent'"
        )
        .await,
        1000
    );
    let failures = common::count(
        &client,
        "SELECT count(*) FROM outpost.attempts WHERE outcome = 'retry'",
    )
    .await;
    assert!(failures > 500, "the coin failed only {failures} times");
    // Half the calls failing, with runs of failures as chance makes them,
    // never opened the circuit: nothing was deferred.
    assert_eq!(
        common::count(
            &client,
            "SELECT coalesce(sum(deferrals), 0)::bigint FROM outpost.messages"
        )
        .await,
        0
    );
    assert_eq!(
        common::count(
            &client,
            "SELECT count(*) FROM outpost.messages WHERE last_error LIKE 'circuit open%'"
        )
        .await,
        0
    );
    assert!(requests.load(Ordering::SeqCst) >= 1000 + failures as u64);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_provider_failing_every_call_opens_its_circuit_with_the_defaults() {
    let (url, requests, _fake) = chaos(Fault::AlwaysFail).await;
    let db = TestDb::new().await;
    let client = db.client().await;
    insert(&client, 300).await;
    let config = db.config_env(env(
        &url,
        &[
            ("OUTPOST__RETRY__BASE", "10ms"),
            ("OUTPOST__RETRY__CAP", "20ms"),
        ],
    ));
    let (channels, _) = db.channels(&config);
    let d = db.dispatcher(&config, channels, "faults");
    let stop = CancellationToken::new();
    let runner = tokio::spawn(outpost::dispatch::runner::run(
        d,
        Arc::new(tokio::sync::Notify::new()),
        stop.clone(),
    ));
    let deadline = Instant::now() + Duration::from_secs(30);
    while common::count(
        &client,
        "SELECT coalesce(sum(deferrals), 0)::bigint FROM outpost.messages",
    )
    .await
        < 100
    {
        assert!(Instant::now() < deadline, "the circuit never opened");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    stop.cancel();
    runner.await.unwrap();
    // Opened after the minimum number of calls (40), all failed; the calls
    // already in flight then (at most the e-mail limit, 32) finished.
    let made = requests.load(Ordering::SeqCst);
    assert!((40..=40 + 32).contains(&made), "{made} requests");
    assert_eq!(
        common::count(&client, "SELECT count(*) FROM outpost.attempts").await,
        made as i64
    );
}
