//! The real-time inbox against a real daemon: tokens minted in SQL, the
//! event stream (a message within a second of its commit, replay after a
//! reconnect, refused tokens, shutdown), the JSON endpoints and CORS, and a
//! real Chromium's EventSource.

use crate::common;

use std::time::{Duration, Instant};

use common::TestDb;
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

/// A daemon running in this process with the inbox on `http`.
struct Running {
    http: String,
    stop: CancellationToken,
    task: tokio::task::JoinHandle<()>,
}

impl Running {
    async fn start(db: &TestDb, edit: impl FnOnce(&mut outpost::config::Config)) -> Self {
        let port = common::free_port();
        let listen = format!("127.0.0.1:{port}");
        let mut config = db.config(&[
            ("OUTPOST__HTTP__LISTEN", &listen),
            ("OUTPOST__HTTP__KEEP_ALIVE_TIMEOUT", "1s"),
            ("OUTPOST__HOUSEKEEPING__ENABLED", "false"),
            ("OUTPOST__INBOX__HEARTBEAT", "1s"),
        ]);
        edit(&mut config);
        let (channels, _) = db.channels(&config);
        let stop = CancellationToken::new();
        let task = tokio::spawn({
            let stop = stop.clone();
            async move {
                outpost::daemon::run(&config, channels, stop).await.unwrap();
            }
        });
        let http = format!("http://{listen}");
        for _ in 0..200 {
            if reqwest::get(format!("{http}/healthz")).await.is_ok() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        Self { http, stop, task }
    }

    async fn stop(self) {
        self.stop.cancel();
        tokio::time::timeout(Duration::from_secs(20), self.task)
            .await
            .expect("the daemon stops with streams open")
            .unwrap();
    }
}

/// Tenant `t1` with messaging on (no pushes), users 42 and 43 in it, user
/// 99 in tenant `t2`.
async fn seed(client: &tokio_postgres::Client) {
    client
        .batch_execute(
            "INSERT INTO outpost.messaging_configs (tenant, push_on_message) VALUES ('t1', false), ('t2', false);
             INSERT INTO outpost.recipients (user_id, tenant) VALUES ('42', 't1'), ('43', 't1'), ('99', 't2');",
        )
        .await
        .unwrap();
}

async fn token(client: &tokio_postgres::Client, user: &str, ttl: &str) -> String {
    client
        .query_one(
            "SELECT outpost.inbox_token($1, ttl => $2::text::interval)",
            &[&user, &ttl],
        )
        .await
        .unwrap()
        .get(0)
}

async fn system_message(client: &tokio_postgres::Client, user: &str, text: &str) -> i64 {
    client
        .query_one(
            "SELECT outpost.send_system_message($1, $2)",
            &[&user, &text],
        )
        .await
        .unwrap()
        .get(0)
}

/// One server-sent event.
#[derive(Debug, Clone)]
struct SseEvent {
    event: String,
    id: Option<String>,
    data: String,
}

impl SseEvent {
    fn json(&self) -> Value {
        serde_json::from_str(&self.data).unwrap()
    }
}

/// An open event stream, read event by event.
struct Stream {
    response: reqwest::Response,
    buffer: String,
}

impl Stream {
    async fn open(http: &str, token: &str, last_event_id: Option<i64>) -> Self {
        let mut request = reqwest::Client::new()
            .get(format!("{http}/inbox/stream"))
            .bearer_auth(token);
        if let Some(id) = last_event_id {
            request = request.header("Last-Event-ID", id.to_string());
        }
        let response = request.send().await.unwrap();
        assert_eq!(response.status(), 200);
        assert_eq!(
            response.headers()["content-type"].to_str().unwrap(),
            "text/event-stream"
        );
        Self {
            response,
            buffer: String::new(),
        }
    }

    /// The next event (comments skipped) within `wait`, `None` at the end.
    async fn next(&mut self, wait: Duration) -> Option<SseEvent> {
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            while let Some(end) = self.buffer.find("\n\n") {
                let block: String = self.buffer.drain(..end + 2).collect();
                let (mut event, mut id, mut data) = ("message".to_owned(), None, Vec::new());
                for line in block.lines() {
                    if let Some(v) = line.strip_prefix("event:") {
                        event = v.trim().to_owned();
                    } else if let Some(v) = line.strip_prefix("id:") {
                        id = Some(v.trim().to_owned());
                    } else if let Some(v) = line.strip_prefix("data:") {
                        data.push(v.trim_start().to_owned());
                    }
                }
                if !data.is_empty() {
                    let data = data.join("\n");
                    return Some(SseEvent { event, id, data });
                }
            }
            let chunk = tokio::time::timeout_at(deadline, self.response.chunk())
                .await
                .unwrap_or_else(|_| panic!("no event within {wait:?}"))
                .ok()??;
            self.buffer.push_str(&String::from_utf8_lossy(&chunk));
        }
    }

    /// Events until one named `name`, which is returned.
    async fn until(&mut self, name: &str) -> SseEvent {
        loop {
            let e = self
                .next(Duration::from_secs(5))
                .await
                .expect("stream open");
            if e.event == name {
                return e;
            }
        }
    }

    /// Whether no `message` event arrives within `wait`.
    async fn quiet(&mut self, wait: Duration) -> bool {
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            if left.is_zero() {
                return true;
            }
            match tokio::time::timeout(left, self.next(left + Duration::from_secs(1))).await {
                Err(_) => return true,
                Ok(Some(e)) if e.event == "message" => return false,
                Ok(_) => {}
            }
        }
    }
}

#[tokio::test]
async fn a_system_message_reaches_the_users_stream_within_a_second_and_replays_after_a_reconnect() {
    let db = TestDb::new().await;
    let client = db.client().await;
    seed(&client).await;
    let first = system_message(&client, "42", "before the stream").await;
    let daemon = Running::start(&db, |_| {}).await;
    let token = token(&client, "42", "1 hour").await;
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
    assert_eq!(event.id.as_deref(), Some(id.to_string().as_str()));
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
    let mut again = Stream::open(&daemon.http, &token, Some(id)).await;
    for expected in &missed {
        let e = again.until("message").await;
        assert_eq!(e.id, Some(expected.to_string()));
    }
    assert_eq!(again.until("unread").await.json()["unread"], 4);
    let mut from_start = Stream::open(&daemon.http, &token, Some(0)).await;
    assert_eq!(
        from_start.until("message").await.id,
        Some(first.to_string()),
        "Last-Event-ID 0 replays from the first message"
    );
    daemon.stop().await;
    assert!(
        again.next(Duration::from_secs(5)).await.is_none(),
        "shutdown ends the stream"
    );
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

#[tokio::test]
async fn the_json_endpoints_list_page_mark_read_and_post_for_the_tokens_user_only() {
    let db = TestDb::new().await;
    let client = db.client().await;
    seed(&client).await;
    let group: i64 = client
        .query_one(
            "WITH c AS (INSERT INTO outpost.chat_channels (kind, tenant, subject)
                        VALUES ('group', 't1', 'Ward 3') RETURNING id),
                  m AS (INSERT INTO outpost.chat_members (channel_id, user_id)
                        SELECT id, u FROM c, unnest(ARRAY['42', '43']) u)
             SELECT id FROM c",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    client
        .batch_execute(
            "UPDATE outpost.messaging_configs SET push_on_message = true WHERE tenant = 't1'",
        )
        .await
        .unwrap();
    system_message(&client, "99", "another tenant's").await;
    let elsewhere: i64 = common::scalar(
        &client,
        "SELECT id FROM outpost.chat_channels WHERE owner = '99'",
        &[],
    )
    .await;
    let daemon = Running::start(&db, |c| {
        c.inbox.allowed_origins = vec!["https://dash.example.com".into()];
    })
    .await;
    let (ann, bob) = (
        token(&client, "42", "1 hour").await,
        token(&client, "43", "1 hour").await,
    );
    let mut ann_stream = Stream::open(&daemon.http, &ann, None).await;
    let http = reqwest::Client::new();
    let url = |path: &str| format!("{}/inbox/{path}", daemon.http);

    let mut posted = Vec::new();
    for text in ["one", "two", "three"] {
        let r = http
            .post(url(&format!("channels/{group}/messages")))
            .bearer_auth(&bob)
            .json(&json!({ "body": text }))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 201);
        let m: Value = r.json().await.unwrap();
        assert_eq!(
            (m["sender"].as_str(), m["body"].as_str()),
            (Some("43"), Some(text))
        );
        posted.push(m["id"].as_i64().unwrap());
    }
    let live = ann_stream.until("message").await.json();
    assert_eq!(
        (live["body"].as_str(), live["sender"].as_str()),
        (Some("one"), Some("43"))
    );
    let pushes = common::count(
        &client,
        &format!(
            "SELECT count(*) FROM outpost.messages WHERE kind = 'push' AND to_user = '42'
             AND (options->>'chat_channel_id')::bigint = {group}"
        ),
    )
    .await;
    assert_eq!(
        pushes, 3,
        "the other member is pushed as for any chat message"
    );

    let channels: Value = http
        .get(url("channels"))
        .bearer_auth(&ann)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let listed = channels["channels"].as_array().unwrap();
    assert_eq!(listed.len(), 1, "{channels}");
    assert_eq!(
        (
            listed[0]["channel_id"].as_i64(),
            listed[0]["unread"].as_i64()
        ),
        (Some(group), Some(3))
    );

    let page: Value = http
        .get(url(&format!("channels/{group}/messages?limit=2")))
        .bearer_auth(&ann)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let ids: Vec<i64> = page["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["id"].as_i64().unwrap())
        .collect();
    assert_eq!(ids, [posted[2], posted[1]]);
    assert_eq!(page["next_before"], posted[1]);
    let older: Value = http
        .get(url(&format!(
            "channels/{group}/messages?limit=2&before={}",
            posted[1]
        )))
        .bearer_auth(&ann)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(older["messages"][0]["id"], posted[0]);
    assert_eq!(older["next_before"], Value::Null);

    let read: Value = http
        .post(url(&format!("channels/{group}/read")))
        .bearer_auth(&ann)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(read["marked"], 3);
    let event = ann_stream.until("read").await.json();
    assert_eq!(
        event,
        json!({"channel_id": group, "last_read_message_id": posted[2], "unread": 0})
    );

    // Another tenant's channel, a body too large, an empty one, a bad token with a large body.
    let status = |r: reqwest::Response| r.status().as_u16();
    for path in [
        format!("channels/{elsewhere}/messages"),
        format!("channels/{elsewhere}/read"),
    ] {
        let r = http
            .post(url(&path))
            .bearer_auth(&ann)
            .json(&json!({"body": "hi"}))
            .send()
            .await
            .unwrap();
        assert_eq!(status(r), 404, "{path}");
    }
    let get_other = http
        .get(url(&format!("channels/{elsewhere}/messages")))
        .bearer_auth(&ann)
        .send()
        .await
        .unwrap();
    assert_eq!(status(get_other), 404);
    let big = json!({ "body": "x".repeat(20_000) });
    let r = http
        .post(url(&format!("channels/{group}/messages")))
        .bearer_auth(&ann)
        .json(&big)
        .send()
        .await
        .unwrap();
    assert_eq!(status(r), 413);
    let r = http
        .post(url(&format!("channels/{group}/messages")))
        .bearer_auth(&ann)
        .json(&json!({"body": " "}))
        .send()
        .await
        .unwrap();
    assert_eq!(status(r), 400);
    let r = http
        .post(url(&format!("channels/{group}/messages")))
        .bearer_auth("v1.x.1.y")
        .json(&big)
        .send()
        .await
        .unwrap();
    assert_eq!(
        status(r),
        401,
        "the token is checked before the body is read"
    );

    // CORS: the configured origin only.
    let preflight = http
        .request(
            reqwest::Method::OPTIONS,
            url(&format!("channels/{group}/messages")),
        )
        .header("Origin", "https://dash.example.com")
        .header("Access-Control-Request-Method", "POST")
        .header(
            "Access-Control-Request-Headers",
            "authorization, content-type",
        )
        .send()
        .await
        .unwrap();
    assert_eq!(
        preflight.headers()["access-control-allow-origin"],
        "https://dash.example.com"
    );
    let foreign = http
        .get(url("channels"))
        .bearer_auth(&ann)
        .header("Origin", "https://evil.example.com")
        .send()
        .await
        .unwrap();
    assert!(
        foreign
            .headers()
            .get("access-control-allow-origin")
            .is_none()
    );

    // outpost inbox rotate-key: a new version; tokens signed before still verify.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_outpost"))
        .args(["inbox", "rotate-key"])
        .env("DATABASE_URL", &db.url)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("inbox key version 2"));
    // A new client: the pooled connection may have met the 1s keep-alive timeout.
    assert_eq!(
        status(
            reqwest::Client::new()
                .get(url("channels"))
                .bearer_auth(&ann)
                .send()
                .await
                .unwrap()
        ),
        200
    );
    daemon.stop().await;
}
