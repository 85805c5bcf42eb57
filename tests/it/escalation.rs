//! Escalation across channels (options.escalate) and channel fallback
//! (options.fallback): follow-ups written with the first message, cancelled
//! when its condition holds, sent when it does not, at once when the first
//! fails; a fallback when the recipient lacks the kind's address.

use std::time::Duration;

use crate::common::{self, TestDb};

const ANN: &str = "INSERT INTO outpost.recipients (user_id, email, phone, tenant) \
                   VALUES ('ann', 'ann@example.com', '+353861234567', 'ward'), \
                          ('bob', 'bob@example.com', NULL, 'ward'); \
                   INSERT INTO outpost.messaging_configs (tenant, enabled, push_on_message) \
                   VALUES ('ward', true, false)";

/// A chat message to `user` that escalates to an SMS after `after` unless `unless`.
async fn chat_then_sms(
    client: &tokio_postgres::Client,
    user: &str,
    after: &str,
    unless: &str,
) -> i64 {
    let options = serde_json::json!({"escalate": {
        "after": after, "unless": unless,
        "then": {"kind": "sms", "body": "You have an unread message"}}});
    common::scalar(
        client,
        "INSERT INTO outpost.messages (kind, to_user, body, options) VALUES ('chat', $1, 'Hello', $2) RETURNING id",
        &[&user, &options],
    )
    .await
}

/// An SMS to Bob, who has no phone: it falls back to e-mail and escalates
/// to chat after `after` unless read. (first, follow-up)
async fn sms_to_bob(client: &tokio_postgres::Client, body: &str, after: &str) -> (i64, i64) {
    let options = serde_json::json!({"fallback": {"kind": "email"},
        "escalate": {"after": after, "unless": "read", "then": {"kind": "chat", "body": "Did you see it?"}}});
    let first: i64 = common::scalar(
        client,
        "SELECT outpost.send_sms($1, to_user => 'bob', options => $2)",
        &[&body, &options],
    )
    .await;
    (first, follow_up(client, first).await)
}

/// The e-mail written for message `first`, whose user had no address.
async fn email_fallback(client: &tokio_postgres::Client, first: i64) -> i64 {
    common::scalar(
        client,
        "SELECT id FROM outpost.messages WHERE escalated_from = $1 AND kind = 'email'",
        &[&first],
    )
    .await
}

/// Seconds from message `earlier`'s column to message `later`'s (each a
/// timestamp column of outpost.messages).
async fn seconds_between(
    client: &tokio_postgres::Client,
    (later, later_column): (i64, &str),
    (earlier, earlier_column): (i64, &str),
) -> f64 {
    common::scalar(
        client,
        &format!(
            "SELECT extract(epoch FROM l.{later_column} - e.{earlier_column})::float8
             FROM outpost.messages l, outpost.messages e WHERE l.id = $1 AND e.id = $2"
        ),
        &[&later, &earlier],
    )
    .await
}

/// Sends everything due with the recording channels; returns what they printed.
async fn drain(db: &TestDb) -> String {
    let config = db.config(&[]);
    let (channels, printed) = db.channels(&config);
    db.dispatcher(&config, channels, "w1")
        .drain()
        .await
        .unwrap();
    String::from_utf8(printed.lock().unwrap().clone()).unwrap()
}

async fn status(client: &tokio_postgres::Client, id: i64) -> (String, Option<String>) {
    let row = client
        .query_one(
            "SELECT status, last_error FROM outpost.messages WHERE id = $1",
            &[&id],
        )
        .await
        .unwrap();
    (row.get(0), row.get(1))
}

async fn follow_up(client: &tokio_postgres::Client, id: i64) -> i64 {
    common::scalar(
        client,
        "SELECT f.id FROM outpost.messages f JOIN outpost.messages m ON m.follow_up = f.id
         WHERE m.id = $1 AND f.escalated_from = m.id",
        &[&id],
    )
    .await
}

#[tokio::test]
async fn a_follow_up_is_written_with_the_first_and_ends_cancelled_when_the_chat_is_read() {
    let db = TestDb::new().await;
    let client = db.client().await;
    client.batch_execute(ANN).await.unwrap();
    let first = chat_then_sms(&client, "ann", "1 hour", "read").await;
    let then = follow_up(&client, first).await;
    // Durable and visible from the start: queued, due an hour after the first.
    let (kind, to_user, due): (String, String, f64) = {
        let r = client
            .query_one(
                "SELECT f.kind, f.to_user, extract(epoch FROM f.run_at - m.run_at)::float8
                 FROM outpost.messages f, outpost.messages m WHERE f.id = $1 AND m.id = $2",
                &[&then, &first],
            )
            .await
            .unwrap();
        (r.get(0), r.get(1), r.get(2))
    };
    assert_eq!(
        (kind.as_str(), to_user.as_str(), due),
        ("sms", "ann", 3600.0)
    );
    let config = db.config(&[("OUTPOST__CHAT__BACKEND", "inapp")]);
    let (channels, printed) = db.channels(&config);
    let dispatcher = db.dispatcher(&config, channels, "w1");
    dispatcher.drain().await.unwrap();
    let s = status(&client, first).await;
    assert_eq!(s.0, "sent", "{s:?}");
    // Moved to the send time plus the hour; not sent yet.
    let moved: f64 = seconds_between(&client, (then, "run_at"), (first, "sent_at")).await;
    assert_eq!(moved, 3600.0);
    let s = status(&client, then).await;
    assert_eq!(s.0, "queued", "{s:?}");
    let channel: i64 = common::scalar(
        &client,
        "SELECT channel_id FROM outpost.chat_messages WHERE outbox_message_id = $1",
        &[&first],
    )
    .await;
    client
        .execute("SELECT outpost.chat_mark_read($1, 'ann')", &[&channel])
        .await
        .unwrap();
    assert_eq!(
        status(&client, then).await,
        (
            "cancelled".to_owned(),
            Some(format!("cancelled: message {first} was read within 1 hour"))
        )
    );
    dispatcher.drain().await.unwrap();
    let printed = String::from_utf8(printed.lock().unwrap().clone()).unwrap();
    assert!(!printed.contains("unread message"), "{printed}");
}

#[tokio::test]
async fn an_unread_first_message_is_followed_up_on_time() {
    let db = TestDb::new().await;
    let client = db.client().await;
    client.batch_execute(ANN).await.unwrap();
    let first = chat_then_sms(&client, "ann", "1 second", "read").await;
    let then = follow_up(&client, first).await;
    let config = db.config(&[]);
    let (channels, printed) = db.channels(&config);
    let dispatcher = db.dispatcher(&config, channels, "w1");
    dispatcher.drain().await.unwrap();
    let s = status(&client, then).await;
    assert_eq!(s.0, "queued", "{s:?}");
    tokio::time::sleep(Duration::from_millis(1100)).await;
    dispatcher.drain().await.unwrap();
    let s = status(&client, then).await;
    assert_eq!(s.0, "sent", "{s:?}");
    let late: f64 = seconds_between(&client, (then, "sent_at"), (first, "sent_at")).await;
    assert!((1.0..3.0).contains(&late), "{late}");
    let printed = String::from_utf8(printed.lock().unwrap().clone()).unwrap();
    assert!(
        printed.contains("+353861234567") && printed.contains("You have an unread message"),
        "{printed}"
    );
}

#[tokio::test]
async fn a_failed_first_message_triggers_its_follow_up_at_once() {
    let db = TestDb::new().await;
    let client = db.client().await;
    client.batch_execute(ANN).await.unwrap();
    // Bob has no phone: the SMS fails; its e-mail follow-up goes at once.
    let options = serde_json::json!({"escalate": {"after": "1 day", "unless": "delivered",
        "then": {"kind": "email", "subject": "Your code", "body": "It is 1234"}}});
    let first: i64 = common::scalar(
        &client,
        "SELECT outpost.send_sms('Your code is 1234', to_user => 'bob', options => $1)",
        &[&options],
    )
    .await;
    let then = follow_up(&client, first).await;
    let printed = drain(&db).await;
    let s = status(&client, first).await;
    assert_eq!(s.0, "failed", "{s:?}");
    let s = status(&client, then).await;
    assert_eq!(s.0, "sent", "{s:?}");
    assert!(printed.contains("bob@example.com"), "{printed}");
}

#[tokio::test]
async fn sent_delivered_and_opened_each_end_the_follow_ups_waiting_for_them() {
    let db = TestDb::new().await;
    let client = db.client().await;
    client.batch_execute(ANN).await.unwrap();
    let mail = |unless: &str| {
        serde_json::json!({"escalate": {"after": "10m", "unless": unless,
            "then": {"kind": "sms", "body": "Please check your e-mail"}}})
    };
    let mut firsts = Vec::new();
    for unless in ["sent", "delivered", "read", "read"] {
        let id: i64 = common::scalar(
            &client,
            "SELECT outpost.send_simple_mail('Report', 'Ready', to_user => 'ann', options => $1)",
            &[&mail(unless)],
        )
        .await;
        firsts.push(id);
    }
    drain(&db).await;
    let mut thens = Vec::new();
    for first in &firsts {
        thens.push(follow_up(&client, *first).await);
    }
    // Sent: the first waits for nothing more.
    assert_eq!(
        status(&client, thens[0]).await,
        (
            "cancelled".to_owned(),
            Some(format!(
                "cancelled: message {} was sent within 10m",
                firsts[0]
            ))
        )
    );
    for then in &thens[1..] {
        assert_eq!(status(&client, *then).await.0, "queued");
    }
    // Delivered (the statement the providers' callbacks run) ends the
    // second; the third waits for a read.
    for first in &firsts[1..3] {
        client
            .execute(outpost::db::statements::EVENT_DELIVERED, &[first])
            .await
            .unwrap();
    }
    assert_eq!(
        status(&client, thens[1]).await,
        (
            "cancelled".to_owned(),
            Some(format!(
                "cancelled: message {} was delivered within 10m",
                firsts[1]
            ))
        )
    );
    assert_eq!(status(&client, thens[2]).await.0, "queued");
    // An "open" event from the provider is a read.
    client
        .execute(
            "INSERT INTO outpost.events (message_id, provider, event) VALUES ($1, 'sendgrid', 'open')",
            &[&firsts[2]],
        )
        .await
        .unwrap();
    assert_eq!(
        status(&client, thens[2]).await,
        (
            "cancelled".to_owned(),
            Some(format!(
                "cancelled: message {} was read within 10m",
                firsts[2]
            ))
        )
    );
    // Delivered is not read: the fourth still waits.
    client
        .execute(outpost::db::statements::EVENT_DELIVERED, &[&firsts[3]])
        .await
        .unwrap();
    assert_eq!(status(&client, thens[3]).await.0, "queued");
}

#[tokio::test]
async fn follow_ups_nest_and_cancelling_the_first_cancels_the_chain() {
    let db = TestDb::new().await;
    let client = db.client().await;
    client.batch_execute(ANN).await.unwrap();
    let options = serde_json::json!({"escalate": {"after": "10m", "unless": "read",
        "then": {"kind": "sms", "body": "Unread", "escalate": {"after": "1h", "unless": "sent",
            "then": {"kind": "voice", "body": "Please call the ward"}}}}});
    let first: i64 = common::scalar(
        &client,
        "SELECT outpost.send_user_push_message('ann', 'Results are in', options => $1)",
        &[&options],
    )
    .await;
    let second = follow_up(&client, first).await;
    let third = follow_up(&client, second).await;
    let kinds: Vec<String> = client
        .query(
            "SELECT kind FROM outpost.messages WHERE id = ANY($1) ORDER BY id",
            &[&vec![first, second, third]],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(kinds, ["push", "sms", "voice"]);
    let due: f64 = seconds_between(&client, (third, "run_at"), (first, "run_at")).await;
    assert_eq!(due, 4200.0);
    client
        .execute("SELECT outpost.cancel($1)", &[&first])
        .await
        .unwrap();
    assert_eq!(
        status(&client, second).await,
        (
            "cancelled".to_owned(),
            Some(format!("cancelled: message {first} was cancelled"))
        )
    );
    assert_eq!(
        status(&client, third).await,
        (
            "cancelled".to_owned(),
            Some(format!("cancelled: message {second} was cancelled"))
        )
    );
}

#[tokio::test]
async fn a_bad_escalation_or_fallback_is_refused_when_written_naming_what_is_wrong() {
    let db = TestDb::new().await;
    let client = db.client().await;
    client.batch_execute(ANN).await.unwrap();
    let then = serde_json::json!({"kind": "sms", "body": "x"});
    let mut six = serde_json::json!({"after": "1m", "unless": "sent", "then": then});
    for _ in 0..5 {
        let mut t = then.clone();
        t["escalate"] = six;
        six = serde_json::json!({"after": "1m", "unless": "sent", "then": t});
    }
    for (to_user, options, expected) in [
        (
            "ann",
            serde_json::json!({"escalate": {"after": "soon", "unless": "read", "then": then}}),
            "options.escalate.after \"soon\" is not a duration",
        ),
        (
            "ann",
            serde_json::json!({"escalate": {"after": "31 days", "unless": "read", "then": then}}),
            "must be between 0 and 30 days",
        ),
        (
            "ann",
            serde_json::json!({"escalate": {"after": "1m", "unless": "seen", "then": then}}),
            "options.escalate.unless must be \"read\", \"delivered\" or \"sent\", not \"seen\"",
        ),
        (
            "ann",
            serde_json::json!({"escalate": {"after": "1m", "unless": "read", "then": {"kind": "fax"}}}),
            "options.escalate.then.kind must be one of email, sms, voice, push, chat, not \"fax\"",
        ),
        (
            "ann",
            serde_json::json!({"escalate": {"after": "1m", "unless": "read", "then": {"kind": "sms", "bdy": "x"}}}),
            "options.escalate.then: unknown key(s) bdy",
        ),
        (
            "ann",
            serde_json::json!({"escalate": {"after": "1m", "unless": "read", "then": then, "when": 1}}),
            "options.escalate: unknown key(s) when",
        ),
        (
            "ann",
            serde_json::json!({"escalate": six}),
            "nested more than five follow-ups deep",
        ),
        (
            "ann",
            serde_json::json!({"fallback": {"kind": "email"}}),
            "K one of email, sms, voice, push, chat other than the message's own kind (email)",
        ),
        (
            "ann",
            serde_json::json!({"fallback": "sms"}),
            "options.fallback must be",
        ),
        (
            "ann",
            serde_json::json!({"fallback": {"kind": "sms", "subject": 5}}),
            "options.fallback must be",
        ),
        (
            "ann",
            serde_json::json!({"fallback": {"kind": "sms", "then": {}}}),
            "options.fallback must be",
        ),
    ] {
        let error = client
            .query_one(
                "SELECT outpost.send_simple_mail('s', 'b', to_user => $1, options => $2)",
                &[&to_user, &options],
            )
            .await
            .unwrap_err();
        let message = error
            .as_db_error()
            .map(|e| e.message().to_owned())
            .unwrap_or_default();
        assert!(message.contains(expected), "{options}: {message}");
    }
    // A follow-up goes to the same user: an address alone cannot escalate.
    let error = client
        .query_one(
            "SELECT outpost.send_simple_mail('s', 'b', to_address => 'x@example.com', options => $1)",
            &[&serde_json::json!({"escalate": {"after": "1m", "unless": "read", "then": then}})],
        )
        .await
        .unwrap_err();
    assert!(
        format!("{error:?}").contains("options.escalate needs to_user"),
        "{error:?}"
    );
    assert_eq!(
        common::count(&client, "SELECT count(*) FROM outpost.messages").await,
        0
    );
}

/// The links are Outpost's: the application role has no right to the columns.
#[tokio::test]
async fn an_application_cannot_write_the_links_itself() {
    let db = TestDb::new().await;
    let client = db.client().await;
    client.batch_execute(ANN).await.unwrap();
    let other = chat_then_sms(&client, "ann", "1h", "read").await;
    let then = follow_up(&client, other).await;
    client.batch_execute("SET ROLE outpost_app").await.unwrap();
    for column in ["follow_up", "escalated_from"] {
        let error = client
            .execute(
                &format!(
                    "INSERT INTO outpost.messages (kind, to_address, body, {column}) VALUES ('sms', '+353861234567', 'x', $1)"
                ),
                &[&then],
            )
            .await
            .unwrap_err();
        assert!(
            format!("{error:?}").contains("permission denied for table messages"),
            "{error:?}"
        );
    }
    client.batch_execute("RESET ROLE").await.unwrap();
    let s = status(&client, then).await;
    assert_eq!(s.0, "queued", "{s:?}");
}

#[tokio::test]
async fn a_user_without_the_kinds_address_gets_the_fallback_with_the_follow_up_moved_to_it() {
    let db = TestDb::new().await;
    let client = db.client().await;
    client.batch_execute(ANN).await.unwrap();
    let (first, then) = sms_to_bob(&client, "Your appointment is at 9", "1h").await;
    let printed = drain(&db).await;
    let fallback = email_fallback(&client, first).await;
    assert_eq!(
        status(&client, first).await,
        (
            "failed".to_owned(),
            Some(format!(
                "recipient user \"bob\" has no phone number for sms messages; sent as email instead (message {fallback})"
            ))
        )
    );
    let s = status(&client, fallback).await;
    assert_eq!(s.0, "sent", "{s:?}");
    // An SMS has no subject: the e-mail takes the first line of its body.
    let subject: String = common::scalar(
        &client,
        "SELECT subject FROM outpost.messages WHERE id = $1",
        &[&fallback],
    )
    .await;
    assert_eq!(subject, "Your appointment is at 9");
    assert!(
        printed.contains("bob@example.com") && printed.contains("Your appointment is at 9"),
        "{printed}"
    );
    // The follow-up now hangs off the fallback: the failed SMS did not
    // trigger it, the sent e-mail moved it to an hour after its sending.
    assert_eq!(
        common::scalar::<Option<i64>>(
            &client,
            "SELECT follow_up FROM outpost.messages WHERE id = $1",
            &[&first]
        )
        .await,
        None
    );
    let (status_then, wait): (String, f64) = {
        let r = client
            .query_one(
                "SELECT f.status, extract(epoch FROM f.run_at - b.sent_at)::float8
                 FROM outpost.messages f, outpost.messages b WHERE f.id = $1 AND b.id = $2 AND b.follow_up = f.id",
                &[&then, &fallback],
            )
            .await
            .unwrap();
        (r.get(0), r.get(1))
    };
    assert_eq!((status_then.as_str(), wait), ("queued", 3600.0));
    // Written once, whoever asks again (a rescued attempt).
    let again: i64 = common::scalar(&client, "SELECT outpost.fall_back($1)", &[&first]).await;
    assert_eq!(again, fallback);
}

#[tokio::test]
async fn the_console_shows_the_chain_on_each_message_of_it() {
    use crate::common::console::{ADMIN, Console};
    let db = TestDb::new().await;
    let client = db.client().await;
    client.batch_execute(ANN).await.unwrap();
    let (first, then) = sms_to_bob(&client, "Clinic moved to room 4", "10m").await;
    let alone: i64 = common::scalar(
        &client,
        "SELECT outpost.send_sms('Alone', to_user => 'ann')",
        &[],
    )
    .await;
    drain(&db).await;
    let fallback = email_fallback(&client, first).await;
    let console = Console::start(&db, &[]).await;
    let mut admin = console.signed_in(ADMIN).await;
    for id in [first, then, fallback] {
        let (status, _, body) = admin.get(&format!("/messages/{id}")).await;
        assert_eq!(status, reqwest::StatusCode::OK);
        assert!(body.contains("Escalation chain"), "{body}");
        for (linked, line) in [
            (first, String::new()),
            (then, format!("follow-up of {first}: after 10m unless read")),
            (
                fallback,
                format!("fallback of {first}: its user had no address for sms"),
            ),
        ] {
            assert!(
                body.contains(&format!("<a href=\"/messages/{linked}\">")),
                "{body}"
            );
            assert!(body.contains(&line), "{line}: {body}");
        }
    }
    let (_, _, body) = admin.get(&format!("/messages/{alone}")).await;
    assert!(!body.contains("Escalation chain"), "{body}");
}

/// docs/escalation.md's example runs as written and does what the chapter says.
#[tokio::test]
async fn the_chapters_example_runs_as_written() {
    let text = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/escalation.md"),
    )
    .unwrap();
    let block = text
        .split("```sql")
        .nth(1)
        .and_then(|b| b.split("```").next())
        .unwrap();
    let db = TestDb::new().await;
    let client = db.client().await;
    client
        .batch_execute(
            "INSERT INTO outpost.recipients (user_id, email) VALUES ('42', 'ann@example.com')",
        )
        .await
        .unwrap();
    client.batch_execute(block).await.unwrap();
    let printed = drain(&db).await;
    let rows: Vec<(String, String, Option<String>)> = client
        .query(
            "SELECT kind, status, last_error FROM outpost.messages ORDER BY id",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2)))
        .collect();
    // The push, its SMS and e-mail follow-ups (waiting), the SMS that fell
    // back for want of a phone number, and its e-mail.
    let shape: Vec<(&str, &str)> = rows
        .iter()
        .map(|(k, s, _)| (k.as_str(), s.as_str()))
        .collect();
    assert_eq!(
        shape,
        [
            ("push", "sent"),
            ("sms", "queued"),
            ("email", "queued"),
            ("sms", "failed"),
            ("email", "sent")
        ]
    );
    assert!(
        rows[3]
            .2
            .as_deref()
            .unwrap()
            .starts_with("recipient user \"42\" has no phone number for sms messages; sent as email instead (message "),
        "{rows:?}"
    );
    assert!(printed.contains("Subject: Your appointment"), "{printed}");
}

/// A follow-up that goes out is a `message.escalated` event for the
/// application's webhook endpoints (0027), naming both messages.
#[tokio::test]
async fn a_follow_up_sent_is_a_message_escalated_webhook_event() {
    let db = TestDb::new().await;
    let client = db.client().await;
    client.batch_execute(ANN).await.unwrap();
    client
        .batch_execute(
            "SELECT outpost.webhook_endpoint_add('https://hooks.example/outpost', ARRAY['message.escalated'])",
        )
        .await
        .unwrap();
    let options = serde_json::json!({"escalate": {"after": "1 day", "unless": "delivered",
        "then": {"kind": "email", "subject": "Code", "body": "1234"}}});
    let first: i64 = common::scalar(
        &client,
        "SELECT outpost.send_sms('Your code is 1234', to_user => 'bob', options => $1)",
        &[&options],
    )
    .await;
    let then = follow_up(&client, first).await;
    let config = db.config(&[]);
    let (channels, _) = db.channels(&config);
    let dispatcher = db.dispatcher(&config, channels, "w1");
    // Send the SMS (it fails: Bob has no phone), then its e-mail follow-up;
    // the event itself stays queued to be read here.
    for kind in [outpost::message::Kind::Sms, outpost::message::Kind::Email] {
        let batch = dispatcher.claim(10, &[kind]).await.unwrap();
        let outcomes =
            futures_util::future::join_all(batch.into_iter().map(|m| dispatcher.deliver(m, None)))
                .await;
        dispatcher.record(&outcomes).await.unwrap();
    }
    let s = status(&client, then).await;
    assert_eq!(s.0, "sent", "{s:?}");
    let events: Vec<serde_json::Value> = client
        .query(
            "SELECT body::jsonb FROM outpost.messages WHERE kind = 'webhook' AND subject = 'message.escalated'",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(events.len(), 1, "{events:?}");
    assert_eq!(events[0]["data"]["id"], first);
    assert_eq!(events[0]["data"]["follow_up"], then);
    assert_eq!(events[0]["data"]["kind"], "email");
}

/// Both outcomes with the real daemon: a read chat message ends its
/// follow-up with the note; an unread one's follow-up goes after `after`,
/// not before.
#[tokio::test]
async fn the_daemon_cancels_a_read_messages_follow_up_and_sends_an_unread_ones_on_time() {
    let db = TestDb::new().await;
    let client = db.client().await;
    client
        .batch_execute(
            "INSERT INTO outpost.recipients (user_id, phone, tenant) \
             VALUES ('ann', '+353861234567', 'ward'), ('cat', '+353861234568', 'ward'); \
             INSERT INTO outpost.messaging_configs (tenant, enabled, push_on_message) \
             VALUES ('ward', true, false)",
        )
        .await
        .unwrap();
    let read = chat_then_sms(&client, "ann", "2s", "read").await;
    let unread = chat_then_sms(&client, "cat", "2s", "read").await;
    let (read_then, unread_then) = (
        follow_up(&client, read).await,
        follow_up(&client, unread).await,
    );
    let dir = tempfile::tempdir().unwrap();
    let env: Vec<(String, String)> = [("OUTPOST__CHAT__BACKEND", "inapp")]
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    let _daemon = common::daemon::start_logged(&db.url, &env, &dir.path().join("log"));
    common::wait_until(
        &client,
        &format!("SELECT count(*) FROM outpost.messages WHERE id IN ({read}, {unread}) AND status = 'sent'"),
        Duration::from_secs(20),
        |n| n == 2,
    )
    .await;
    client
        .execute(
            "SELECT outpost.chat_mark_read(c.channel_id, 'ann') FROM outpost.chat_messages c \
             WHERE c.outbox_message_id = $1",
            &[&read],
        )
        .await
        .unwrap();
    assert_eq!(
        status(&client, read_then).await,
        (
            "cancelled".to_owned(),
            Some(format!("cancelled: message {read} was read within 2s"))
        )
    );
    common::wait_until(
        &client,
        &format!(
            "SELECT count(*) FROM outpost.messages WHERE id = {unread_then} AND status = 'sent'"
        ),
        Duration::from_secs(20),
        |n| n == 1,
    )
    .await;
    let waited: f64 = seconds_between(&client, (unread_then, "sent_at"), (unread, "sent_at")).await;
    assert!(
        (2.0..5.0).contains(&waited),
        "the follow-up went {waited} s after"
    );
    let s = status(&client, read_then).await;
    assert_eq!(s.0, "cancelled", "{s:?}");
}
