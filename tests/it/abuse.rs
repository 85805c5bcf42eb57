//! Abuse bounds (issue 26, the smaller points): a valid unsubscribe token
//! cannot be replayed into writes or an unbounded flood, and never reaches
//! the access log; the inbound endpoint's Basic auth cannot be brute-forced;
//! `X-SMTPAPI` cannot be set; console statements have a time limit and bulk
//! actions a filter and a row bound.

use crate::common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use common::console::{ADMIN, Console};
use common::{TestDb, row};
use outpost::http::{AppState, router, serve};
use outpost::message::{Kind, MessageId};
use outpost::unsubscribe::{Target, Who};
use reqwest::StatusCode;
use serde_json::json;
use tokio_util::sync::CancellationToken;

const SECRET: &str = "unsubscribe-secret-of-at-least-32-chars";
const INBOUND_USER: &str = "parse";
const INBOUND_PASSWORD: &str = "parse-secret";

/// The webhook listener in-process on real sockets, with unsubscribe links
/// and inbound credentials configured.
async fn http_server(db: &TestDb) -> (String, outpost::config::Config, CancellationToken) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let config = db.config(&[
        ("OUTPOST__UNSUBSCRIBE__PUBLIC_URL", &base),
        ("OUTPOST__UNSUBSCRIBE__SECRET", SECRET),
        ("OUTPOST__WEBHOOKS__INBOUND_USERNAME", INBOUND_USER),
        ("OUTPOST__WEBHOOKS__INBOUND_PASSWORD", INBOUND_PASSWORD),
    ]);
    let pool = outpost::db::pool(&db.url, 4).unwrap();
    let state = AppState::new(
        pool,
        &config,
        Arc::new(outpost::metrics::Metrics::new()),
        None,
    );
    let app = router(state, config.http.request_timeout);
    let stop = CancellationToken::new();
    let limits = outpost::http::server::Limits::from(&config.http);
    tokio::spawn(serve(listener, app, limits, stop.clone()));
    (base, config, stop)
}

fn token(config: &outpost::config::Config, who: Who) -> String {
    config.unsubscribe.as_ref().unwrap().sign(&Target {
        who,
        category: "newsletter".into(),
        kind: Kind::Email,
        database: None,
    })
}

async fn one_click(http: &reqwest::Client, base: &str, token: &str) -> reqwest::Response {
    http.post(format!("{base}/unsubscribe/{token}"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body("List-Unsubscribe=One-Click")
        .send()
        .await
        .unwrap()
}

async fn audit_rows(client: &tokio_postgres::Client) -> i64 {
    common::count(
        client,
        "SELECT count(*) FROM outpost.console_audit WHERE actor = 'unsubscribe' \
         OR (actor = 'role ' || current_user AND after->>'source' = 'unsubscribe')",
    )
    .await
}

#[tokio::test]
async fn a_repeated_unsubscribe_writes_nothing_and_a_flood_gets_429() {
    let db = TestDb::new().await;
    let (base, config, stop) = http_server(&db).await;
    let _stop = stop.drop_guard();
    let client = db.client().await;
    let http = reqwest::Client::new();
    let user = token(&config, Who::User("42".into()));

    assert_eq!(one_click(&http, &base, &user).await.status(), 200);
    assert_eq!(audit_rows(&client).await, 1);
    let version = || async {
        let r = client
            .query_one(
                "SELECT xmin::text, updated_at, enabled FROM outpost.preferences \
                 WHERE user_id = '42' AND category = 'newsletter' AND kind = 'email'",
                &[],
            )
            .await
            .unwrap();
        let v: (String, chrono::DateTime<chrono::Utc>, bool) = (r.get(0), r.get(1), r.get(2));
        v
    };
    let first = version().await;
    assert!(!first.2);
    // Four more are answered 200 as before, and change nothing: no new row
    // version (xmin), no audit entry.
    for _ in 0..4 {
        assert_eq!(one_click(&http, &base, &user).await.status(), 200);
    }
    assert_eq!(
        version().await,
        first,
        "a repeat wrote the preference again"
    );
    assert_eq!(
        audit_rows(&client).await,
        1,
        "a repeat wrote an audit entry"
    );
    // Past five a minute per token: 429 with Retry-After.
    let refused = one_click(&http, &base, &user).await;
    assert_eq!(refused.status(), StatusCode::TOO_MANY_REQUESTS);
    let retry_after: u64 = refused.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=60).contains(&retry_after), "{retry_after}");
    for _ in 0..50 {
        assert_eq!(one_click(&http, &base, &user).await.status(), 429);
    }
    assert_eq!(audit_rows(&client).await, 1);

    // An address token: suppressed once, recorded once.
    let address = token(&config, Who::Address("Ann@Example.com".into()));
    for _ in 0..3 {
        assert_eq!(one_click(&http, &base, &address).await.status(), 200);
    }
    assert_eq!(audit_rows(&client).await, 2);
    assert_eq!(
        common::count(&client, "SELECT count(*) FROM outpost.suppressions").await,
        1
    );
}

#[tokio::test]
async fn one_source_gets_at_most_600_unsubscribe_posts_a_minute() {
    let db = TestDb::new().await;
    let (base, config, stop) = http_server(&db).await;
    let _stop = stop.drop_guard();
    let http = reqwest::Client::new();
    // Bad tokens cost no database work, but count against their source.
    let mut answered = std::collections::BTreeMap::new();
    for i in 0..600 {
        let status = one_click(&http, &base, &format!("v1.bad.{i}"))
            .await
            .status();
        *answered.entry(status.as_u16()).or_insert(0) += 1;
    }
    assert_eq!(answered, [(400, 600)].into());
    let good = token(&config, Who::User("7".into()));
    let refused = one_click(&http, &base, &good).await;
    assert_eq!(refused.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(refused.headers().contains_key("retry-after"));
    assert_eq!(audit_rows(&db.client().await).await, 0);
    // Another source is unaffected.
    let other = reqwest::Client::builder()
        .local_address("127.0.0.2".parse::<std::net::IpAddr>().unwrap())
        .build()
        .unwrap();
    assert_eq!(one_click(&other, &base, &good).await.status(), 200);
}

/// The inbound multipart body SendGrid posts (parsed mode, the fields Outpost needs).
fn inbound_body(n: usize) -> Vec<u8> {
    let fields = [
        (
            "headers",
            format!("Message-ID: <abuse-{n}@mx.test>\nSubject: s\n"),
        ),
        ("from", "Ann <ann@example.com>".to_owned()),
        ("to", "reports@inbound.meg.test".to_owned()),
        ("subject", "s".to_owned()),
        ("text", "hello".to_owned()),
    ];
    let mut body = Vec::new();
    for (name, value) in fields {
        body.extend_from_slice(
            format!(
                "--xYzZY\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n"
            )
            .as_bytes(),
        );
    }
    body.extend_from_slice(b"--xYzZY--\r\n");
    body
}

async fn post_inbound(
    http: &reqwest::Client,
    base: &str,
    password: &str,
    n: usize,
) -> reqwest::Response {
    http.post(format!("{base}/inbound/sendgrid"))
        .header("content-type", "multipart/form-data; boundary=xYzZY")
        .basic_auth(INBOUND_USER, Some(password))
        .body(inbound_body(n))
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn inbound_basic_auth_failures_are_throttled_per_source() {
    let db = TestDb::new().await;
    let (base, _config, stop) = http_server(&db).await;
    let _stop = stop.drop_guard();
    let client = db.client().await;
    let attacker = reqwest::Client::new();
    // Successes never count.
    for n in 0..12 {
        let ok = post_inbound(&attacker, &base, INBOUND_PASSWORD, n).await;
        assert_eq!(ok.status(), 200, "{}", ok.text().await.unwrap());
    }
    for guess in 0..10 {
        let r = post_inbound(&attacker, &base, &format!("guess-{guess}"), 100).await;
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED, "guess {guess}");
    }
    // The eleventh failure in a minute: 429 with Retry-After, and from now on
    // credentials are not even checked, so a right guess learns nothing.
    for password in ["guess-10", INBOUND_PASSWORD] {
        let r = post_inbound(&attacker, &base, password, 200).await;
        assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS, "{password}");
        let retry_after: u64 = r.headers()["retry-after"]
            .to_str()
            .unwrap()
            .parse()
            .unwrap();
        assert!((1..=60).contains(&retry_after), "{retry_after}");
    }
    assert_eq!(
        common::count(&client, "SELECT count(*) FROM outpost.inbound_emails").await,
        12
    );
    // Another source still gets through with the right credentials.
    let sendgrid = reqwest::Client::builder()
        .local_address("127.0.0.3".parse::<std::net::IpAddr>().unwrap())
        .build()
        .unwrap();
    assert_eq!(
        post_inbound(&sendgrid, &base, INBOUND_PASSWORD, 300)
            .await
            .status(),
        200
    );
    assert_eq!(
        common::count(&client, "SELECT count(*) FROM outpost.inbound_emails").await,
        13
    );
}

#[tokio::test]
async fn unsubscribe_tokens_stay_out_of_the_access_log() {
    let db = TestDb::new().await;
    let port = common::free_port();
    let base = format!("http://127.0.0.1:{port}");
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("outpost.log");
    let env: Vec<(String, String)> = [
        ("OUTPOST__HTTP__LISTEN", format!("127.0.0.1:{port}")),
        ("OUTPOST__UNSUBSCRIBE__PUBLIC_URL", base.clone()),
        ("OUTPOST__UNSUBSCRIBE__SECRET", SECRET.to_owned()),
        ("OUTPOST__LOG__LEVEL", "info".to_owned()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect();
    let _daemon = common::daemon::start_logged(&db.url, &env, &log);
    let http = reqwest::Client::new();
    let deadline = Instant::now() + Duration::from_secs(30);
    while http
        .get(format!("{base}/healthz"))
        .send()
        .await
        .map(|r| !r.status().is_success())
        .unwrap_or(true)
    {
        assert!(Instant::now() < deadline, "the daemon did not start");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let config = db.config(&[
        ("OUTPOST__UNSUBSCRIBE__PUBLIC_URL", &base),
        ("OUTPOST__UNSUBSCRIBE__SECRET", SECRET),
    ]);
    let token = token(&config, Who::User("42".into()));
    let page = http
        .get(format!("{base}/unsubscribe/{token}?utm=x"))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 200);
    assert_eq!(one_click(&http, &base, &token).await.status(), 200);
    let (_, mac) = token.rsplit_once('.').unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let text = std::fs::read_to_string(&log).unwrap();
        assert!(
            !text.contains(&token) && !text.contains(mac),
            "the token reached the log:\n{text}"
        );
        let lines = text
            .lines()
            .filter(|l| l.contains("/unsubscribe/[redacted]") && l.contains("status=200"))
            .count();
        if lines >= 2 {
            assert!(
                text.contains("/unsubscribe/[redacted]?[redacted]"),
                "{text}"
            );
            break;
        }
        assert!(Instant::now() < deadline, "no access log lines:\n{text}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn x_smtpapi_is_a_refused_header() {
    let db = TestDb::new().await;
    let client = db.client().await;
    let mut ids = Vec::new();
    for name in ["X-SMTPAPI", "x-smtpapi"] {
        let options = json!({"headers": {name: "{\"to\": [\"victim@example.com\"]}"}});
        let id: i64 = common::scalar(
            &client,
            "INSERT INTO outpost.messages (kind, to_address, subject, body, options)
             VALUES ('email', 'ann@example.com', 's', 'b', $1) RETURNING id",
            &[&options],
        )
        .await;
        ids.push((name, id));
    }
    let config = db.config(&[]);
    let (channels, sink) = db.channels(&config);
    db.dispatcher(&config, channels, "x-smtpapi")
        .drain()
        .await
        .unwrap();
    for (name, id) in ids {
        let (status, attempts, error) = row(&client, MessageId(id)).await;
        assert_eq!((status.as_str(), attempts), ("failed", 1));
        let error = error.unwrap_or_default();
        assert!(
            error.contains(&format!(
                "header {name} cannot be set through options.headers (SendGrid's SMTP API"
            )),
            "{error}"
        );
    }
    let printed = String::from_utf8_lossy(&sink.lock().unwrap()).into_owned();
    assert!(!printed.contains("victim@example.com"), "{printed}");
}

#[tokio::test]
async fn console_statements_stop_at_the_statement_timeout() {
    let db = TestDb::new().await;
    let console = Console::start(&db, &[("OUTPOST__CONSOLE__STATEMENT_TIMEOUT", "1s")]).await;
    let mut admin = console.signed_in(ADMIN).await;
    // Something holds the messages table: every console query on it waits.
    let mut locker = db.client().await;
    let tx = locker.transaction().await.unwrap();
    tx.batch_execute("LOCK TABLE outpost.messages IN ACCESS EXCLUSIVE MODE")
        .await
        .unwrap();
    let started = Instant::now();
    let (status, _, body) = tokio::time::timeout(
        Duration::from_secs(20),
        admin.get("/messages?status=failed"),
    )
    .await
    .expect("the console waited for the lock without a time limit");
    let took = started.elapsed();
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert!(body.contains("console.statement_timeout"), "{body}");
    assert!(took < Duration::from_secs(5), "{took:?}");
    tx.rollback().await.unwrap();
    let (status, _, _) = admin.get("/messages?status=failed").await;
    assert_eq!(status, StatusCode::OK);
    // The console's own connections carry the setting.
    let pool = outpost::pools::open(
        &db.config(&[("OUTPOST__CONSOLE__STATEMENT_TIMEOUT", "1500ms")]),
        outpost::pools::Purpose::Console,
    )
    .unwrap();
    let shown: String = pool
        .get()
        .await
        .unwrap()
        .query_one("SHOW statement_timeout", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(shown, "1500ms");
}

#[tokio::test]
async fn bulk_actions_need_a_filter_and_touch_at_most_1000_messages() {
    let db = TestDb::new().await;
    let client = db.client().await;
    client
        .batch_execute(
            "INSERT INTO outpost.messages (kind, to_address, subject, body, status, attempts, finished_at, last_error)
             SELECT 'email', 'bulk' || g || '@example.com', 's', 'b', 'failed', 1, now(), 'down'
             FROM generate_series(1, 1002) g",
        )
        .await
        .unwrap();
    let console = Console::start(&db, &[]).await;
    let mut admin = console.signed_in(ADMIN).await;
    admin.get("/messages").await;
    // No filter: refused, nothing changes.
    for path in ["/messages/bulk", "/messages/bulk/confirm"] {
        let (status, _, body) = admin
            .post(path, &[("action", "retry"), ("user", " ")])
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{path}");
        assert!(body.contains("at least one filter"), "{body}");
    }
    let queued = "SELECT count(*) FROM outpost.messages WHERE status = 'queued'";
    assert_eq!(common::count(&client, queued).await, 0);

    let (status, _, body) = admin
        .post(
            "/messages/bulk",
            &[("status", "failed"), ("action", "retry")],
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert!(body.contains("1002 message(s) match"), "{body}");
    assert!(
        body.contains("at most 1000 messages") && body.contains("Yes, retry 1000 message(s)"),
        "{body}"
    );
    let (_, _, body) = admin
        .post(
            "/messages/bulk/confirm",
            &[("status", "failed"), ("action", "retry")],
        )
        .await;
    assert!(
        body.contains("1000 message(s) queued again. More match"),
        "{body}"
    );
    assert_eq!(common::count(&client, queued).await, 1000);
    // The oldest went first.
    let oldest_left: i64 = common::scalar(
        &client,
        "SELECT min(id) FROM outpost.messages WHERE status = 'failed'",
        &[],
    )
    .await;
    let newest_queued: i64 = common::scalar(
        &client,
        "SELECT max(id) FROM outpost.messages WHERE status = 'queued'",
        &[],
    )
    .await;
    assert!(newest_queued < oldest_left);
    let (_, _, body) = admin
        .post(
            "/messages/bulk/confirm",
            &[("status", "failed"), ("action", "retry")],
        )
        .await;
    assert!(body.contains("2 message(s) queued again."), "{body}");
    assert!(!body.contains("More match"), "{body}");
    assert_eq!(common::count(&client, queued).await, 1002);
    let recorded = common::count(
        &client,
        "SELECT count(*) FROM outpost.console_audit WHERE action = 'messages.bulk_retry' \
         AND (after->>'count')::int IN (1000, 2)",
    )
    .await;
    assert_eq!(recorded, 2);
}
