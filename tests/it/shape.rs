//! The message's one shape: the address it goes to and what the suppression
//! list means for it are decided by one SQL fragment (`message_shape.sql`)
//! that the claim and the console's preview share, read by one decoder; the
//! dispatcher only explains a missing address.

use crate::common::{self, TestDb};
use outpost::db::{Relation, statements};
use outpost::message::{ClaimedMessage, decode};
use outpost::suppression::Verdict;

/// Message `id` as the claim would shape it, unclaimed.
async fn shaped(client: &tokio_postgres::Client, id: i64) -> ClaimedMessage {
    let sql = statements::message_preview(&Relation::parse("outpost.recipients").unwrap());
    let row = client.query_one(&sql, &[&id]).await.unwrap();
    decode(&row, std::time::Instant::now()).unwrap()
}

async fn enqueue(
    client: &tokio_postgres::Client,
    kind: &str,
    to_user: Option<&str>,
    to_address: Option<&str>,
    options: serde_json::Value,
) -> i64 {
    common::scalar(
        client,
        "SELECT outpost.enqueue($1, to_user => $2, to_address => $3, subject => 's', body => 'b', options => $4)",
        &[&kind, &to_user, &to_address, &options],
    )
    .await
}

#[tokio::test]
async fn the_address_is_decided_once_in_sql_trimmed_and_by_kind() {
    let db = TestDb::new().await;
    let client = db.client().await;
    client
        .batch_execute(
            "INSERT INTO outpost.recipients (user_id, email, phone, push_named_user) VALUES
               ('42', ' bob@example.com ', NULL, ''),
               ('43', NULL, '+353861234567', 'named-43')",
        )
        .await
        .unwrap();
    let none = serde_json::json!({});
    // (kind, to_user, to_address, the address decided)
    type Case<'a> = (&'a str, Option<&'a str>, Option<&'a str>, Option<&'a str>);
    let cases: [Case; 8] = [
        (
            "email",
            None,
            Some(" \tann@example.com \n"),
            Some("ann@example.com"),
        ),
        ("email", Some("42"), None, Some("bob@example.com")),
        ("email", Some("42"), Some("  "), Some("bob@example.com")),
        ("sms", Some("42"), None, None),
        ("sms", Some("43"), None, Some("+353861234567")),
        // An empty push named user falls back to the user id.
        ("push", Some("42"), None, Some("42")),
        ("push", Some("43"), None, Some("named-43")),
        ("email", Some("7"), None, None),
    ];
    for (kind, user, address, expected) in cases {
        let id = enqueue(&client, kind, user, address, none.clone()).await;
        let message = shaped(&client, id).await;
        assert_eq!(
            message.address.as_deref(),
            expected,
            "{kind} to {user:?}/{address:?}"
        );
        let resolved = outpost::recipient::resolve(&message, "outpost.recipients", "en");
        match expected {
            Some(to) => assert_eq!(resolved.unwrap().to, to),
            None => {
                let error = resolved.unwrap_err().to_string();
                let want = if user == Some("7") {
                    "unknown recipient: user \"7\" is not in outpost.recipients"
                } else {
                    "recipient user \"42\" has no phone number for sms messages"
                };
                assert_eq!(error, want);
            }
        }
    }
}

#[tokio::test]
async fn the_suppression_verdict_is_decided_once_in_sql() {
    let db = TestDb::new().await;
    let client = db.client().await;
    client
        .batch_execute(
            "INSERT INTO outpost.suppressions (family, address, reason) VALUES
               ('email', 'gone@example.com', 'test'), ('email', 'cc-gone@example.com', 'test'),
               ('phone', '+353861234567', 'test')",
        )
        .await
        .unwrap();
    let none = serde_json::json!({});
    let list = |s: &[&str]| s.iter().map(|a| (*a).to_owned()).collect::<Vec<_>>();
    let cases = [
        ("email", "ok@example.com", none.clone(), Verdict::Clear),
        (
            "email",
            "Gone <GONE@example.com>",
            none.clone(),
            Verdict::All(list(&["gone@example.com"])),
        ),
        (
            "email",
            "gone@example.com, ok@example.com",
            none.clone(),
            Verdict::Some(list(&["gone@example.com"])),
        ),
        (
            "email",
            "gone@example.com, ,gone@example.com",
            none.clone(),
            Verdict::All(list(&["gone@example.com"])),
        ),
        (
            "email",
            "ok@example.com",
            serde_json::json!({"cc": ["cc-gone@example.com"]}),
            Verdict::Some(list(&["cc-gone@example.com"])),
        ),
        (
            "sms",
            "+353861234567",
            none.clone(),
            Verdict::All(list(&["+353861234567"])),
        ),
        ("sms", "+353861234568", none.clone(), Verdict::Clear),
    ];
    for (kind, to, options, expected) in cases {
        let id = enqueue(&client, kind, None, Some(to), options).await;
        assert_eq!(
            shaped(&client, id).await.suppression,
            expected,
            "{kind} to {to}"
        );
    }
    let verdict = Verdict::Some(list(&["cc-gone@example.com"]));
    assert!(verdict.leaves_out("CC <cc-gone@Example.com>"));
    assert!(!verdict.leaves_out("ok@example.com"));
}
