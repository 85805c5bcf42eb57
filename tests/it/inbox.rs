//! The real-time inbox's event stream against a real daemon: tokens minted
//! in SQL, a message within a second of its commit, replay after a
//! reconnect, refused tokens, shutdown, and a real Chromium's EventSource.

use crate::common;

use std::time::{Duration, Instant};

use common::TestDb;
use common::inbox::{Running, Stream, doc_block, seed, system_message, token};
use serde_json::{Value, json};

#[tokio::test]
async fn a_system_message_reaches_the_users_stream_within_a_second_and_replays_after_a_reconnect() {
    let db = TestDb::new().await;
    let client = db.client().await;
    seed(&client).await;
    let first = system_message(&client, "42", "before the stream").await;
    let daemon = Running::start(&db, |_| {}).await;
    // The docs' example, as written, for user 42.
    let minted = doc_block("## Minting a token", "sql");
    let token: String = client.query_one(&minted, &[]).await.unwrap().get(0);
    assert!(token.starts_with("v1."), "{token}");
    let mut stream = Stream::open(&daemon.http, &token, None).await;
    let snapshot = stream.until("unread").await.json();
    assert_eq!(snapshot["unread"], 1, "{snapshot}");
    // Longer than http.keep_alive_timeout (1s) with heartbeats only.
    tokio::time::sleep(Duration::from_millis(1500)).await;

    let sent = Instant::now();
    let id = system_message(&client, "42", "Your report is ready").await;
    let event = stream.until("message").await;
    let latency = sent.elapsed();
    assert!(latency < Duration::from_secs(1), "took {latency:?}");
    let resume = event.id.clone().expect("a message event has an id");
    assert!(resume.starts_with(&format!("{id}/")), "{resume}");
    let message = event.json();
    assert_eq!(message["body"], "Your report is ready");
    assert_eq!(message["sender"], Value::Null);
    assert_eq!(
        stream.until("unread").await.json(),
        json!({"channel_id": message["channel_id"], "unread": 2})
    );
    drop(stream);

    let missed: Vec<i64> = vec![
        system_message(&client, "42", "missed one").await,
        system_message(&client, "42", "missed two").await,
    ];
    let mut again = Stream::open(&daemon.http, &token, Some(&resume)).await;
    for expected in &missed {
        let e = again.until("message").await;
        assert_eq!(e.json()["id"], *expected);
    }
    assert_eq!(again.until("unread").await.json()["unread"], 4);
    let mut from_start = Stream::open(&daemon.http, &token, Some("0")).await;
    assert_eq!(
        from_start.until("message").await.json()["id"],
        first,
        "Last-Event-ID 0 replays from the first message"
    );
    daemon.stop().await;
    assert!(
        again.next(Duration::from_secs(5)).await.is_none(),
        "shutdown ends the stream"
    );
}

#[tokio::test]
async fn a_message_committed_after_a_newer_numbered_one_is_sent_live_and_replayed_after_a_reconnect()
 {
    let db = TestDb::new().await;
    let client = db.client().await;
    seed(&client).await;
    system_message(&client, "42", "the channel exists").await;
    let daemon = Running::start(&db, |_| {}).await;
    let token = token(&client, "42", "1 hour").await;
    let mut stream = Stream::open(&daemon.http, &token, None).await;
    let mut watcher = Stream::open(&daemon.http, &token, None).await;
    stream.until("unread").await;
    watcher.until("unread").await;

    // The lower id, taken by a transaction that commits last.
    let mut slow_client = db.client().await;
    let slow = slow_client.transaction().await.unwrap();
    let late: i64 = slow
        .query_one(
            "SELECT outpost.send_system_message('42', 'written first, committed last')",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    let early = system_message(&client, "42", "written second, committed first").await;
    assert!(late < early, "{late} {early}");
    let seen = stream.until("message").await;
    assert_eq!(seen.json()["id"], early);
    assert_eq!(watcher.until("message").await.json()["id"], early);
    let resume = seen.id.expect("an event id");
    drop(stream);

    slow.commit().await.unwrap();
    assert_eq!(
        watcher.until("message").await.json()["id"],
        late,
        "an open stream is sent the late commit"
    );
    let mut again = Stream::open(&daemon.http, &token, Some(&resume)).await;
    assert_eq!(
        again.until("message").await.json()["id"],
        late,
        "the message committed after the one the client saw is replayed"
    );
    assert!(
        again.quiet(Duration::from_millis(700)).await,
        "a message the client had seen was sent again"
    );
    for bad in ["12/garbage", "12/20:10:", "x", "-1"] {
        let refused = Stream::request(&daemon.http, &token, Some(bad)).await;
        assert_eq!(refused.status(), 400, "Last-Event-ID {bad:?}");
    }
    daemon.stop().await;
}

#[tokio::test]
async fn missing_forged_expired_and_other_users_tokens_are_refused() {
    let db = TestDb::new().await;
    let client = db.client().await;
    seed(&client).await;
    let daemon = Running::start(&db, |_| {}).await;
    let http = reqwest::Client::new();
    let status = |r: reqwest::Response| r.status().as_u16();
    let stream_url = format!("{}/inbox/stream", daemon.http);
    assert_eq!(status(http.get(&stream_url).send().await.unwrap()), 401);

    let token = token(&client, "42", "1 hour").await;
    let parts: Vec<&str> = token.split('.').collect();
    use base64::Engine as _;
    let other = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode("43");
    let forged = format!("{}.{other}.{}.{}", parts[0], parts[2], parts[3]);
    let response = http
        .get(&stream_url)
        .bearer_auth(&forged)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);
    assert_eq!(response.headers()["www-authenticate"], "Bearer");

    let short = token_for_seconds(&client, "42").await;
    let ok = http
        .get(format!("{}/inbox/channels", daemon.http))
        .bearer_auth(&short);
    assert_eq!(status(ok.send().await.unwrap()), 200);
    tokio::time::sleep(Duration::from_millis(2100)).await;
    let expired = http
        .get(format!("{stream_url}?token={short}"))
        .send()
        .await
        .unwrap();
    assert_eq!(status(expired), 401, "an expired token");

    // A token for 43 sees nothing of 42's.
    let mut theirs = Stream::open(
        &daemon.http,
        &self::token(&client, "43", "1 hour").await,
        None,
    )
    .await;
    let mut mine = Stream::open(&daemon.http, &token, None).await;
    system_message(&client, "42", "for 42 only").await;
    assert_eq!(mine.until("message").await.json()["body"], "for 42 only");
    assert!(
        theirs.quiet(Duration::from_millis(700)).await,
        "43 saw 42's message"
    );

    // A role of tenant t2 cannot mint a token for t1's user; the app role cannot read the keys.
    let role = format!("{}_t2", db.name);
    client
        .batch_execute(&format!(
            "CREATE ROLE {role}; SELECT outpost.grant_tenant('{role}', 't2'); SET ROLE {role}"
        ))
        .await
        .unwrap();
    let refused = client
        .query_one("SELECT outpost.inbox_token('42')", &[])
        .await
        .unwrap_err();
    let refused = refused.as_db_error().unwrap().message().to_owned();
    assert!(refused.contains("not in tenant t2"), "{refused}");
    let keys = client
        .query("SELECT * FROM outpost.inbox_keys", &[])
        .await
        .unwrap_err();
    let keys = keys.as_db_error().unwrap().message().to_owned();
    assert!(keys.contains("permission denied"), "{keys}");
    client
        .batch_execute(&format!("RESET ROLE; DROP ROLE {role}"))
        .await
        .unwrap();

    // Rotation: the old token keeps working, the new key signs and verifies.
    let version: i32 = client
        .query_one("SELECT outpost.inbox_rotate_key()", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(version, 2);
    let rotated = self::token(&client, "42", "1 hour").await;
    assert!(rotated.starts_with("v2."), "{rotated}");
    for t in [&token, &rotated] {
        let r = http
            .get(format!("{}/inbox/channels", daemon.http))
            .bearer_auth(t);
        assert_eq!(status(r.send().await.unwrap()), 200);
    }
    daemon.stop().await;
}

/// A token that expires in a second or two.
async fn token_for_seconds(client: &tokio_postgres::Client, user: &str) -> String {
    token(client, user, "1 second").await
}

/// The dashboard's page: docs/inbox.md's EventSource example, each
/// message's body written into `#got`, the connection's state into `#state`.
const PAGE: &str = r#"<!doctype html>
<html><head><meta charset="utf-8"><title>Inbox</title></head>
<body><p id="state">connecting</p><p id="got"></p><p id="badge"></p>
<script>
const OUTPOST = ORIGIN, token = TOKEN;
function show(m) { document.getElementById("got").textContent = m.body; }
function badge(channel, unread) { document.getElementById("badge").textContent = unread; }
EXAMPLE
source.onopen = () => { document.getElementById("state").textContent = "open"; };
</script></body></html>
"#;

#[tokio::test]
async fn a_real_browsers_event_source_receives_a_system_message() {
    use common::browser::Browser;
    use fantoccini::Locator;
    let browser = match Browser::start().await {
        Ok(b) => b,
        Err(why) => {
            println!("SKIPPED: a_real_browsers_event_source_receives_a_system_message: {why}");
            return;
        }
    };
    let db = TestDb::new().await;
    let client = db.client().await;
    seed(&client).await;
    // The page comes from another origin, as a dashboard's would.
    let site = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let origin = format!("http://{}", site.local_addr().unwrap());
    let daemon = Running::start(&db, |c| c.inbox.allowed_origins = vec![origin.clone()]).await;
    let token = token(&client, "42", "1 hour").await;
    let html = PAGE
        .replace("EXAMPLE", &doc_block("## The stream", "js"))
        .replace("ORIGIN", &serde_json::to_string(&daemon.http).unwrap())
        .replace("TOKEN", &serde_json::to_string(&token).unwrap());
    let pages = axum::Router::new().route(
        "/",
        axum::routing::get(move || async move { axum::response::Html(html) }),
    );
    let served = tokio::spawn(async move { axum::serve(site, pages).await });

    browser.goto(&format!("{origin}/")).await;
    browser
        .wait_for(Locator::XPath("//p[@id='state' and text()='open']"))
        .await;
    system_message(&client, "42", "Hello from SQL").await;
    browser
        .wait_for(Locator::XPath("//p[@id='got' and text()='Hello from SQL']"))
        .await;
    browser.shot("inbox-event-source").await;
    browser.close().await;
    served.abort();
    daemon.stop().await;
}
