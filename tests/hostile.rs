//! Hostile input: wrong shapes and types in options, huge bodies, invalid
//! addresses, header injection, SQL-looking strings. Each bad message fails
//! alone with a clear error, nothing is stored half-way, and the next message
//! is still delivered.

mod common;

use common::TestDb;
use serde_json::json;

#[tokio::test]
async fn bad_messages_fail_alone_with_clear_errors() {
    let db = TestDb::new().await;
    let client = db.client().await;
    let cases: Vec<(serde_json::Value, &str)> = vec![
        (
            json!({"to_address": "a@example.com", "subject": "s", "body": "b", "options": {"cc": 5}}),
            "options.cc must be a string or a list of strings",
        ),
        (
            json!({"to_address": "a@example.com", "subject": "s", "body": "b", "options": {"headers": "X-A: b"}}),
            "options.headers must be an object of strings",
        ),
        (
            json!({"to_address": "a@example.com", "subject": "s", "body": "b", "options": {"headers": {"X-A": 5}}}),
            "header X-A must be a string",
        ),
        (
            json!({"to_address": "a@example.com", "subject": "s", "body": "b", "options": {"attachments": {"a": 1}}}),
            "options.attachments must be a list",
        ),
        (
            json!({"to_address": "a@example.com", "subject": "s", "body": "b", "options": {"attachments": [{"filename": "x.pdf", "content": "%%%"}]}}),
            "content is not base64",
        ),
        (
            json!({"to_address": "a@example.com", "subject": "s", "body": "b", "options": {"categories": [1, 2]}}),
            "options.categories must be a list of strings",
        ),
        (
            json!({"to_address": "a@example.com", "subject": "s", "body": "b", "options": {"from": 42}}),
            "invalid from address",
        ),
        (
            json!({"to_address": "x'); DROP TABLE outpost.messages; --", "subject": "s", "body": "b"}),
            "invalid to address",
        ),
        (
            json!({"to_address": "a@example.com\r\nBcc: victim@example.com", "subject": "s", "body": "b"}),
            "to address contains a line break",
        ),
        (
            json!({"to_address": "a@example.com", "template": "../../etc/passwd"}),
            "is missing",
        ),
        (
            json!({"to_address": "a@example.com", "template": "welcome", "context": {"name": {"nested": [1, 2]}, "messages": "many"}}),
            "welcome.txt",
        ),
        (
            json!({"to_address": "a@example.com"}),
            "no template and no subject",
        ),
    ];
    let mut bad_ids = Vec::new();
    for (message, _) in &cases {
        let id: i64 = client
            .query_one(
                "INSERT INTO outpost.messages (kind, to_address, subject, body, template, context, options)
                 VALUES ('email', $1::jsonb->>'to_address', $1::jsonb->>'subject', $1::jsonb->>'body', $1::jsonb->>'template',
                         coalesce($1::jsonb->'context', '{}'), coalesce($1::jsonb->'options', '{}'))
                 RETURNING id",
                &[message],
            )
            .await
            .unwrap()
            .get(0);
        bad_ids.push(id);
    }
    // Alongside: a 10 MB body and SQL-looking text that are legitimate content.
    let big = "x".repeat(10 * 1024 * 1024);
    let big_id: i64 = client
        .query_one(
            "SELECT outpost.send_simple_mail($1, $2, to_address => 'big@example.com')",
            &[&"Robert'); DROP TABLE outpost.messages;--", &big],
        )
        .await
        .unwrap()
        .get(0);
    let config = db.config(&[]);
    let (channels, sink) = db.channels(&config);
    let d = db.dispatcher(&config, channels, "hostile");
    d.drain().await.unwrap();
    for ((_, expected), id) in cases.iter().zip(&bad_ids) {
        let (status, attempts, error) =
            common::row(&client, outpost::message::MessageId(*id)).await;
        assert_eq!((status.as_str(), attempts), ("failed", 1), "message {id}");
        let error = error.unwrap_or_default();
        assert!(
            error.contains(expected),
            "message {id}: {error:?} should say {expected:?}"
        );
    }
    let big = common::row(&client, outpost::message::MessageId(big_id)).await;
    assert_eq!(big.0, "sent", "{:?}", big.2);
    let printed = String::from_utf8_lossy(&sink.lock().unwrap()).into_owned();
    assert!(
        !printed.contains("victim@example.com"),
        "an injected header reached the output"
    );
    // The table is intact and the next message goes out.
    let next = db.email(&client, "next@example.com").await;
    d.drain().await.unwrap();
    assert_eq!(common::row(&client, next).await.0, "sent");
}
