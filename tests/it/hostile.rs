//! Hostile input: wrong shapes and types in options, huge bodies, invalid
//! addresses, header injection, SQL-looking strings. Each bad message fails
//! alone with a clear error, nothing is stored half-way, and the next message
//! is still delivered.

use crate::common;

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
        // A misspelled option is not silently ignored (issue 27): the
        // message fails naming the key, and what the kind accepts.
        (
            json!({"to_address": "a@example.com", "subject": "s", "body": "b", "options": {"reply_too": "r@example.com"}}),
            "options.reply_too: unknown field `reply_too`, expected one of `from`, `reply_to`",
        ),
        (
            json!({"to_address": "a@example.com", "subject": "s", "body": "b", "options": {"verbatim": "yes"}}),
            "options.verbatim: invalid type: string \"yes\", expected a boolean",
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
        // Trace, authentication and structural headers belong to servers and the composer.
        (
            json!({"to_address": "a@example.com", "subject": "s", "body": "b", "options": {"headers": {"Return-Path": "<bounce@evil.test>"}}}),
            "header Return-Path cannot be set through options.headers (a trace or authentication header)",
        ),
        (
            json!({"to_address": "a@example.com", "subject": "s", "body": "b", "options": {"headers": {"Received": "from trusted.example.com"}}}),
            "header Received cannot be set",
        ),
        (
            json!({"to_address": "a@example.com", "subject": "s", "body": "b", "options": {"headers": {"DKIM-Signature": "v=1; d=bank.test"}}}),
            "header DKIM-Signature cannot be set",
        ),
        (
            json!({"to_address": "a@example.com", "subject": "s", "body": "b", "options": {"headers": {"Resent-From": "ceo@example.com"}}}),
            "header Resent-From cannot be set",
        ),
        (
            json!({"to_address": "a@example.com", "subject": "s", "body": "b", "options": {"headers": {"Content-Disposition": "attachment; filename=x.exe"}}}),
            "header Content-Disposition cannot be set through options.headers (a MIME structure header)",
        ),
        // 1 + 50 recipients: over the default cap of 50.
        (
            json!({"to_address": "a@example.com", "subject": "s", "body": "b", "options": {"bcc": ["b0@example.com", "b1@example.com", "b2@example.com", "b3@example.com", "b4@example.com", "b5@example.com", "b6@example.com", "b7@example.com", "b8@example.com", "b9@example.com", "b10@example.com", "b11@example.com", "b12@example.com", "b13@example.com", "b14@example.com", "b15@example.com", "b16@example.com", "b17@example.com", "b18@example.com", "b19@example.com", "b20@example.com", "b21@example.com", "b22@example.com", "b23@example.com", "b24@example.com", "b25@example.com", "b26@example.com", "b27@example.com", "b28@example.com", "b29@example.com", "b30@example.com", "b31@example.com", "b32@example.com", "b33@example.com", "b34@example.com", "b35@example.com", "b36@example.com", "b37@example.com", "b38@example.com", "b39@example.com", "b40@example.com", "b41@example.com", "b42@example.com", "b43@example.com", "b44@example.com", "b45@example.com", "b46@example.com", "b47@example.com", "b48@example.com", "b49@example.com"]}}),
            "too many recipients: 51 (to + cc + bcc); at most 50 per message (email.max_recipients)",
        ),
        // A line break in the subject column fails, as docs/channels.md says.
        (
            json!({"to_address": "a@example.com", "subject": "Hi\r\nBcc: victim@example.com", "body": "b"}),
            "the subject contains CR or LF",
        ),
    ];
    let mut bad_ids = Vec::new();
    for (message, _) in &cases {
        let id: i64 = common::scalar(&client, "INSERT INTO outpost.messages (kind, to_address, subject, body, template, context, options)
                 VALUES ('email', $1::jsonb->>'to_address', $1::jsonb->>'subject', $1::jsonb->>'body', $1::jsonb->>'template',
                         coalesce($1::jsonb->'context', '{}'), coalesce($1::jsonb->'options', '{}'))
                 RETURNING id", &[message]).await;
        bad_ids.push(id);
    }
    // Alongside: a body at its 4 MiB limit and SQL-looking text that are
    // legitimate content.
    let big = "x".repeat(4 * 1024 * 1024);
    let big_id: i64 = common::scalar(
        &client,
        "SELECT outpost.send_simple_mail($1, $2, to_address => 'big@example.com')",
        &[&"Robert'); DROP TABLE outpost.messages;--", &big],
    )
    .await;
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
