//! The operations side under load and abuse: `/metrics` never scans the
//! outbox (the queue gauges are refreshed in the background), health and
//! metrics on a listener of their own with an optional bearer token, and the
//! console's connection cap and timeouts keeping a descriptor flood on its
//! port from starving the webhook port.

use std::sync::Arc;
use std::time::{Duration, Instant};

use outpost::http::{AppState, router, serve};
use outpost::metrics::Metrics;
use tokio_util::sync::CancellationToken;

use crate::common::{self, TestDb};

/// `seq_scan + idx_scan` of `outpost.messages`, as the statistics say now.
async fn scans(client: &tokio_postgres::Client) -> i64 {
    client
        .query_one(
            "SELECT pg_stat_clear_snapshot()::text, \
             (coalesce(seq_scan, 0) + coalesce(idx_scan, 0))::bigint \
             FROM pg_stat_user_tables WHERE relid = 'outpost.messages'::regclass",
            &[],
        )
        .await
        .unwrap()
        .get(1)
}

/// Backends flush their table statistics within 10 s of going idle
/// (PostgreSQL's idle flush interval); waiting longer sees all of them.
const STATS_SETTLE: Duration = Duration::from_secs(12);

#[tokio::test]
async fn metrics_scrapes_leave_the_outbox_unscanned() {
    let db = TestDb::new().await;
    let client = db.client().await;
    client
        .execute(
            "INSERT INTO outpost.messages (kind, to_address, subject, body, status, finished_at) \
             SELECT 'email', 'a' || g || '@example.com', 's', 'b', \
                    CASE WHEN g % 100 = 0 THEN 'queued' ELSE 'sent' END, \
                    CASE WHEN g % 100 = 0 THEN NULL ELSE now() END \
             FROM generate_series(1, 100000) g",
            &[],
        )
        .await
        .unwrap();
    client
        .batch_execute("ANALYZE outpost.messages")
        .await
        .unwrap();

    let config = db.config(&[]);
    let metrics = Arc::new(Metrics::new());
    let stop = CancellationToken::new();
    let _stop = stop.clone().drop_guard();
    // One refresh at start, the next an hour later: every scan after the
    // first refresh would be a scrape's.
    tokio::spawn(outpost::metrics::refresh::run(
        db.url.clone(),
        true,
        metrics.clone(),
        Duration::from_secs(3600),
        stop.clone(),
    ));
    let pool = outpost::db::pool(&db.url, 4).unwrap();
    let state = AppState::new(pool, &config, metrics, None);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/metrics", listener.local_addr().unwrap());
    let limits = outpost::http::server::Limits::from(&config.http);
    tokio::spawn(serve(
        listener,
        router(state, config.http.request_timeout),
        limits,
        stop.clone(),
    ));

    let http = reqwest::Client::new();
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let text = http.get(&url).send().await.unwrap().text().await.unwrap();
        if text.contains("outpost_messages{kind=\"email\",status=\"queued\"} 1000") {
            assert!(text.contains("outpost_oldest_queued_seconds"), "{text}");
            assert!(
                !text.contains("status=\"sent\""),
                "the sent history is not a gauge: {text}"
            );
            break;
        }
        assert!(Instant::now() < deadline, "no refresh within 20 s: {text}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let refreshers: i64 = common::scalar(
        &client,
        "SELECT count(*) FROM pg_stat_activity \
         WHERE datname = current_database() AND application_name = 'outpost metrics'",
        &[],
    )
    .await;
    assert_eq!(refreshers, 1, "the refresh has a connection of its own");

    tokio::time::sleep(STATS_SETTLE).await;
    let before = scans(&client).await;
    for _ in 0..20 {
        let r = http.get(&url).send().await.unwrap();
        assert_eq!(r.status(), 200);
        assert!(r.text().await.unwrap().contains("status=\"queued\"} 1000"));
    }
    tokio::time::sleep(STATS_SETTLE).await;
    let after = scans(&client).await;
    assert_eq!(
        after - before,
        0,
        "20 scrapes scanned outpost.messages {} times",
        after - before
    );
}

/// `outpost run` logging at INFO into `log`, with `env`, under `ulimit`.
fn daemon(
    db: &TestDb,
    env: &[(&str, String)],
    ulimit: Option<&str>,
    log: &std::path::Path,
) -> common::daemon::Daemon {
    let env: Vec<(String, String)> = [("OUTPOST__LOG__LEVEL", "info".to_owned())]
        .iter()
        .chain(env)
        .map(|(k, v)| (k.to_string(), v.clone()))
        .collect();
    common::daemon::start_limited(&db.url, &env, log, ulimit)
}

/// Waits up to 20 s for `url` to answer 200.
async fn answering(http: &reqwest::Client, url: &str, log: &std::path::Path) {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if let Ok(r) = http.get(url).send().await
            && r.status() == 200
        {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{url} never answered; log:\n{}",
            std::fs::read_to_string(log).unwrap_or_default()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn health_and_metrics_have_a_listener_of_their_own_and_metrics_a_token() {
    let db = TestDb::new().await;
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("outpost.log");
    let (ops, web) = (common::free_port(), common::free_port());
    let _daemon = daemon(
        &db,
        &[
            ("OUTPOST__OPS__LISTEN", format!("127.0.0.1:{ops}")),
            ("OUTPOST__HTTP__LISTEN", format!("127.0.0.1:{web}")),
            ("OUTPOST__OPS__METRICS_TOKEN", "scrape-me-please".into()),
            ("OUTPOST__OPS__REFRESH_INTERVAL", "1s".into()),
            ("OUTPOST__HTTP__MAX_CONNECTIONS", "4".into()),
            ("OUTPOST__HTTP__HEADER_TIMEOUT", "60s".into()),
        ],
        None,
        &log,
    );
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(2))
        .build()
        .unwrap();
    answering(&http, &format!("http://127.0.0.1:{ops}/healthz"), &log).await;
    answering(&http, &format!("http://127.0.0.1:{ops}/readyz"), &log).await;

    // Every slot of the webhook port held by a silent client: that port is
    // blind, the operations port is not.
    let mut silent = Vec::new();
    for _ in 0..8 {
        silent.push(
            tokio::net::TcpStream::connect(("127.0.0.1", web))
                .await
                .unwrap(),
        );
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    let blind = http
        .get(format!("http://127.0.0.1:{web}/healthz"))
        .timeout(Duration::from_secs(1))
        .send()
        .await;
    assert!(
        blind.is_err(),
        "the webhook port's slots are all taken: {blind:?}"
    );
    for path in ["/healthz", "/readyz"] {
        let r = http
            .get(format!("http://127.0.0.1:{ops}{path}"))
            .send()
            .await
            .unwrap();
        assert_eq!(
            r.status(),
            200,
            "{path} on the operations port while the webhook port is flooded"
        );
    }
    drop(silent);
    for port in [ops, web] {
        let url = format!("http://127.0.0.1:{port}/metrics");
        let refused = http.get(&url).send().await.unwrap();
        assert_eq!(refused.status(), 401, "{url} without the token");
        assert_eq!(
            refused.headers()["www-authenticate"],
            "Bearer",
            "{url} says which scheme"
        );
        let wrong = http
            .get(&url)
            .bearer_auth("scrape-me")
            .send()
            .await
            .unwrap();
        assert_eq!(wrong.status(), 401, "{url} with a wrong token");
        let ok = http
            .get(&url)
            .bearer_auth("scrape-me-please")
            .send()
            .await
            .unwrap();
        assert_eq!(ok.status(), 200, "{url} with the token");
        assert!(
            ok.text()
                .await
                .unwrap()
                .contains("outpost_queue_refresh_seconds")
        );
    }
    // Only health, readiness and metrics are served there.
    let inbound = http
        .post(format!("http://127.0.0.1:{ops}/inbound/sendgrid"))
        .send()
        .await
        .unwrap();
    assert_eq!(inbound.status(), 404);
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(
        !text.contains("scrape-me-please"),
        "the token is never logged"
    );
}

#[tokio::test]
async fn half_open_sockets_on_the_console_port_leave_the_webhook_port_answering() {
    // The test holds 1,100 sockets itself.
    rlimit::increase_nofile_limit(4096).unwrap();
    let db = TestDb::new().await;
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("outpost.log");
    let (console, web) = (common::free_port(), common::free_port());
    let mut daemon = daemon(
        &db,
        &[
            ("OUTPOST__CONSOLE__ENABLED", "true".into()),
            ("OUTPOST__CONSOLE__LISTEN", format!("127.0.0.1:{console}")),
            ("OUTPOST__CONSOLE__HEADER_TIMEOUT", "3s".into()),
            ("OUTPOST__HTTP__LISTEN", format!("127.0.0.1:{web}")),
            ("OUTPOST__OPS__LISTEN", "127.0.0.1:0".into()),
        ],
        Some("-n 1024"),
        &log,
    );
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(3))
        .build()
        .unwrap();
    let healthz = format!("http://127.0.0.1:{web}/healthz");
    answering(&http, &healthz, &log).await;
    let limits = std::fs::read_to_string(format!("/proc/{}/limits", daemon.0.id())).unwrap();
    assert!(
        limits
            .lines()
            .any(|l| l.starts_with("Max open files") && l.contains(" 1024 ")),
        "the daemon runs under ulimit -n 1024: {limits}"
    );

    // 1,100 connections that never send a byte, 50 at a time so that a
    // daemon accepting without a cap keeps up with them.
    let mut sockets = Vec::new();
    while sockets.len() < 1100 {
        let connects = (0..50).map(|_| {
            tokio::time::timeout(
                Duration::from_secs(5),
                tokio::net::TcpStream::connect(("127.0.0.1", console)),
            )
        });
        let batch = futures_util::future::join_all(connects).await;
        let before = sockets.len();
        sockets.extend(
            batch
                .into_iter()
                .filter_map(|c| c.ok().and_then(Result::ok)),
        );
        assert!(sockets.len() > before, "no connection completed");
    }
    // Let the daemon accept what it will: its descriptor count settles.
    let fds = || {
        std::fs::read_dir(format!("/proc/{}/fd", daemon.0.id()))
            .unwrap()
            .count()
    };
    let (mut last, mut same) = (fds(), 0);
    let settle = Instant::now() + Duration::from_secs(15);
    while same < 5 && Instant::now() < settle {
        tokio::time::sleep(Duration::from_millis(200)).await;
        let now = fds();
        same = if now == last { same + 1 } else { 0 };
        last = now;
    }
    let asked = Instant::now();
    let r = http.get(&healthz).send().await;
    assert!(
        matches!(&r, Ok(r) if r.status() == 200),
        "/healthz on the webhook port with 1,100 half-open console sockets: {r:?}; log:\n{}",
        std::fs::read_to_string(&log).unwrap_or_default()
    );
    assert!(asked.elapsed() < Duration::from_secs(3));
    assert!(last < 1000, "the daemon holds {last} descriptors of 1024");

    // The console's header timeout closes the sockets it accepted.
    let mut first = sockets.into_iter().next().unwrap();
    let mut buf = [0u8; 16];
    let read = tokio::time::timeout(
        Duration::from_secs(10),
        tokio::io::AsyncReadExt::read(&mut first, &mut buf),
    )
    .await;
    assert!(
        matches!(read, Ok(Ok(0)) | Ok(Err(_))),
        "a silent console connection is closed after console.header_timeout: {read:?}"
    );
    assert!(
        daemon.0.try_wait().unwrap().is_none(),
        "the daemon is running"
    );
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(
        text.contains("connection caps do not fit the file descriptor limit"),
        "the lowered caps are reported: {text}"
    );
}

#[tokio::test]
async fn the_soft_descriptor_limit_is_raised_to_the_hard_one() {
    let (soft, hard) = rlimit::getrlimit(rlimit::Resource::NOFILE).unwrap();
    if hard <= 1024 || soft < 1024 {
        panic!("this test needs a hard file limit above 1024 (soft {soft}, hard {hard})");
    }
    let db = TestDb::new().await;
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("outpost.log");
    let web = common::free_port();
    let daemon = daemon(
        &db,
        &[
            ("OUTPOST__HTTP__LISTEN", format!("127.0.0.1:{web}")),
            ("OUTPOST__OPS__LISTEN", "127.0.0.1:0".into()),
        ],
        Some("-S -n 1024"),
        &log,
    );
    let http = reqwest::Client::new();
    answering(&http, &format!("http://127.0.0.1:{web}/healthz"), &log).await;
    let limits = std::fs::read_to_string(format!("/proc/{}/limits", daemon.0.id())).unwrap();
    let line = limits
        .lines()
        .find(|l| l.starts_with("Max open files"))
        .unwrap();
    let numbers: Vec<u64> = line
        .split_whitespace()
        .filter_map(|w| w.parse().ok())
        .collect();
    assert_eq!(numbers, vec![hard, hard], "{line}");
}
