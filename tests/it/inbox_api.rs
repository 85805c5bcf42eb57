//! The real-time inbox's JSON endpoints against a real daemon: a user's
//! channels, keyset pages, mark read, posting, CORS and key rotation.

use crate::common;

use common::TestDb;
use common::inbox::{Running, Stream, seed, system_message, token};
use serde_json::{Value, json};

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
