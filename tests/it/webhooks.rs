//! Signed webhooks to applications: events written by the database with
//! their fact, delivered by the outbox to a real HTTP receiver, verified by
//! the `standardwebhooks` package from PyPI (not by Outpost's own code);
//! retries, failures and 410 Gone; the SSRF refusal; tenant walls.

use std::sync::Arc;
use std::time::Duration;

use crate::common::webhook::{Receiver, endpoint, verified};
use crate::common::{self, TestDb, daemon};

#[tokio::test]
async fn a_delivery_from_the_daemon_verifies_with_standardwebhooks_and_its_secret_is_never_logged()
{
    let db = TestDb::new().await;
    let client = db.client().await;
    let receiver = Receiver::start(&[]).await;
    let (id, secret) = endpoint(&client, &receiver.url(), &["message.sent"], None).await;
    assert!(secret.starts_with("whsec_"), "{secret}");
    let log = tempfile::NamedTempFile::new().unwrap();
    let env: Vec<(String, String)> = [
        ("OUTPOST__WEBHOOK_ENDPOINTS__ALLOW_PRIVATE", "true"),
        ("OUTPOST__HTTP__LISTEN", "127.0.0.1:0"),
        ("OUTPOST__LOG__LEVEL", "debug"),
    ]
    .iter()
    .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
    .collect();
    let _daemon = daemon::start_logged(&db.url, &env, log.path());
    let email = db.email(&client, "ann@example.com").await;
    common::wait_until(
        &client,
        "SELECT count(*) FROM outpost.messages WHERE kind = 'webhook' AND status = 'sent'",
        Duration::from_secs(30),
        |n| n == 1,
    )
    .await;
    let requests = receiver.requests().await;
    assert_eq!(requests.len(), 1);
    let (headers, _) = &requests[0];
    assert!(
        headers["webhook-signature"]
            .as_str()
            .unwrap()
            .starts_with("v1,")
    );
    assert_eq!(headers["content-type"], "application/json");
    let payloads = verified(&secret, &requests);
    assert_eq!(payloads[0]["type"], "message.sent");
    assert_eq!(payloads[0]["data"]["id"], email.0);
    assert_eq!(payloads[0]["data"]["kind"], "email");
    // The delivery is an outbox row with its attempt, to the endpoint.
    let row = client
        .query_one(
            "SELECT m.to_address, m.options ->> 'webhook_id', a.provider, a.outcome, a.provider_code
             FROM outpost.messages m JOIN outpost.attempts a ON a.message_id = m.id
             WHERE m.kind = 'webhook'",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(row.get::<_, String>(0), id.to_string());
    assert_eq!(
        Some(row.get::<_, String>(1)),
        headers["webhook-id"].as_str().map(str::to_owned)
    );
    assert_eq!(
        (row.get::<_, String>(2), row.get::<_, String>(3)),
        ("webhook".to_owned(), "sent".to_owned())
    );
    // A tampered body does not verify: the package really checks.
    let mut tampered = requests.clone();
    tampered[0].1 = tampered[0].1.replace("message.sent", "message.failed");
    let refused = std::panic::catch_unwind(|| verified(&secret, &tampered));
    assert!(refused.is_err(), "a tampered body verified");
    let logs = std::fs::read_to_string(log.path()).unwrap();
    assert!(
        logs.contains("webhook"),
        "the debug log says nothing: {logs}"
    );
    let key = secret.trim_start_matches("whsec_");
    assert!(!logs.contains(key), "the secret is in the log");
}

/// A dispatcher in this process with the daemon's real channels, the
/// receiver on loopback allowed or not, and retries 10 ms apart.
fn dispatcher(db: &TestDb, allow_private: bool) -> Arc<outpost::dispatch::Dispatcher> {
    let allow = if allow_private { "true" } else { "false" };
    let config = db.config(&[
        ("OUTPOST__WEBHOOK_ENDPOINTS__ALLOW_PRIVATE", allow),
        ("OUTPOST__RETRY__BASE", "10ms"),
        ("OUTPOST__RETRY__CAP", "20ms"),
    ]);
    let (channels, _) = db.channels(&config);
    db.dispatcher(&config, channels, "w")
}

/// Sends until no webhook delivery is queued or sending (30 s at most).
async fn deliver_all(d: &outpost::dispatch::Dispatcher, client: &tokio_postgres::Client) {
    for _ in 0..600 {
        d.drain().await.unwrap();
        let busy = common::count(
            client,
            "SELECT count(*) FROM outpost.messages WHERE kind = 'webhook' AND status IN ('queued', 'sending')",
        )
        .await;
        if busy == 0 {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("webhook deliveries still queued after 30 s");
}

/// Marks a new e-mail sent, as the daemon would: the event of every test.
async fn sent_email(db: &TestDb, client: &tokio_postgres::Client) -> i64 {
    let id = db.email(client, "ann@example.com").await.0;
    client
        .execute(
            "UPDATE outpost.messages SET status = 'sent', sent_at = now() WHERE id = $1",
            &[&id],
        )
        .await
        .unwrap();
    id
}

/// Status, attempt outcomes and codes, and last error of the delivery to `endpoint`.
async fn delivery(
    client: &tokio_postgres::Client,
    endpoint: i64,
) -> (String, Vec<(String, Option<String>)>, Option<String>) {
    let row = client
        .query_one(
            "SELECT id, status, last_error FROM outpost.messages WHERE kind = 'webhook' AND to_address = $1",
            &[&endpoint.to_string()],
        )
        .await
        .unwrap();
    let id: i64 = row.get(0);
    let attempts = client
        .query(
            "SELECT outcome, provider_code FROM outpost.attempts WHERE message_id = $1 ORDER BY attempt",
            &[&id],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    (row.get(1), attempts, row.get(2))
}

#[tokio::test]
async fn a_failing_receiver_is_retried_with_an_attempt_row_per_try_a_4xx_fails_and_410_disables() {
    let db = TestDb::new().await;
    let client = db.client().await;
    let flaky = Receiver::start(&[500, 503]).await;
    let refusing = Receiver::start(&[422]).await;
    let gone = Receiver::start(&[410]).await;
    let (flaky_id, secret) = endpoint(&client, &flaky.url(), &["message.sent"], None).await;
    let (refusing_id, _) = endpoint(&client, &refusing.url(), &["message.sent"], None).await;
    let (gone_id, _) = endpoint(&client, &gone.url(), &["message.sent"], None).await;
    sent_email(&db, &client).await;
    deliver_all(&dispatcher(&db, true), &client).await;

    let (status, attempts, _) = delivery(&client, flaky_id).await;
    assert_eq!(status, "sent");
    let outcomes: Vec<_> = attempts
        .iter()
        .map(|(o, c)| (o.as_str(), c.as_deref()))
        .collect();
    assert_eq!(
        outcomes[..2],
        [("retry", Some("500")), ("retry", Some("503"))]
    );
    assert_eq!(outcomes[2].0, "sent");
    // Three tries, one webhook-id, each signed anew and verified.
    let requests = flaky.requests().await;
    assert_eq!(requests.len(), 3);
    let ids: std::collections::HashSet<_> = requests
        .iter()
        .map(|(h, _)| h["webhook-id"].clone())
        .collect();
    assert_eq!(ids.len(), 1);
    assert_eq!(verified(&secret, &requests).len(), 3);

    let (status, attempts, error) = delivery(&client, refusing_id).await;
    assert_eq!((status.as_str(), attempts.len()), ("failed", 1));
    assert_eq!(
        error.as_deref(),
        Some("the receiver answered 422 Unprocessable Entity")
    );

    let (status, _, _) = delivery(&client, gone_id).await;
    assert_eq!(status, "failed");
    let (enabled, reason): (bool, Option<String>) = {
        let r = client
            .query_one(
                "SELECT enabled, disabled_reason FROM outpost.webhook_endpoints WHERE id = $1",
                &[&gone_id],
            )
            .await
            .unwrap();
        (r.get(0), r.get(1))
    };
    assert!(!enabled);
    assert_eq!(reason.as_deref(), Some("the receiver answered 410 Gone"));
    // The next event goes to the two endpoints still enabled only.
    sent_email(&db, &client).await;
    assert_eq!(
        common::count(&client, &format!("SELECT count(*) FROM outpost.messages WHERE kind = 'webhook' AND to_address = '{gone_id}'")).await,
        1
    );
    assert_eq!(
        common::count(
            &client,
            "SELECT count(*) FROM outpost.messages WHERE kind = 'webhook' AND status = 'queued'"
        )
        .await,
        2
    );
}

#[tokio::test]
async fn an_endpoint_on_a_private_address_is_refused_unless_allowed() {
    let db = TestDb::new().await;
    let client = db.client().await;
    let receiver = Receiver::start(&[]).await;
    let port = receiver.server.address().port();
    let (literal, _) = endpoint(&client, &receiver.url(), &["message.sent"], None).await;
    let named = format!("http://localhost:{port}/hooks");
    let (by_name, _) = endpoint(&client, &named, &["message.sent"], None).await;
    sent_email(&db, &client).await;
    deliver_all(&dispatcher(&db, false), &client).await;
    for id in [literal, by_name] {
        let (status, attempts, error) = delivery(&client, id).await;
        assert_eq!(
            (status.as_str(), attempts.len()),
            ("failed", 1),
            "endpoint {id}"
        );
        assert!(
            error.unwrap().contains("webhook_endpoints.allow_private"),
            "endpoint {id}"
        );
    }
    assert!(
        receiver.requests().await.is_empty(),
        "a request reached the receiver"
    );
}

/// The first ```sql block after `marker` in `file`.
fn sql_after(file: &str, marker: &str) -> String {
    let text = std::fs::read_to_string(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(file))
        .unwrap();
    let section = text
        .split(marker)
        .nth(1)
        .expect("the marker is in the file");
    section
        .split("```sql")
        .nth(1)
        .and_then(|b| b.split("```").next())
        .unwrap()
        .to_owned()
}

#[tokio::test]
async fn the_docs_webhook_examples_work_as_written() {
    let db = TestDb::new().await;
    let client = db.client().await;
    // Delivery 42, which the examples replay.
    client
        .batch_execute(
            "INSERT INTO outpost.messages (id, kind, to_address, subject, body, options)
             OVERRIDING SYSTEM VALUE
             VALUES (42, 'webhook', '1', 'message.failed', '{}', '{\"webhook_id\": \"msg_1\"}')",
        )
        .await
        .unwrap();
    for (file, marker) in [
        ("docs/sql-api.md", "### Signed webhooks"),
        ("docs/webhooks.md", "## Registering an endpoint"),
        ("docs/webhooks.md", "## Looking at deliveries"),
    ] {
        let block = sql_after(file, marker);
        client
            .batch_execute(&block)
            .await
            .unwrap_or_else(|e| panic!("{file} ({marker}): {e:?}\n{block}"));
    }
    assert_eq!(
        common::count(&client, "SELECT count(*) FROM outpost.webhook_endpoints").await,
        2
    );
    assert_eq!(
        common::count(
            &client,
            "SELECT count(*) FROM outpost.messages WHERE options ->> 'replay_of' = '42'"
        )
        .await,
        2
    );
}

/// With no enabled endpoint the outbox's webhook trigger is off, so
/// finishing a message costs nothing for webhooks; the first enabled
/// endpoint turns it on, the last one disabled or removed turns it off.
#[tokio::test]
async fn the_outbox_trigger_is_on_only_while_an_endpoint_is_enabled() {
    let db = TestDb::new().await;
    let client = db.client().await;
    let enabled = |sql: &'static str| {
        let client = &client;
        async move {
            client.batch_execute(sql).await.unwrap();
            common::scalar::<bool>(
                client,
                "SELECT tgenabled <> 'D' FROM pg_trigger
                 WHERE tgrelid = 'outpost.messages'::regclass AND tgname = 'messages_webhook'",
                &[],
            )
            .await
        }
    };
    assert!(!enabled("SELECT 1").await);
    assert!(
        enabled(
            "SELECT outpost.webhook_endpoint_add('https://a.example/h', ARRAY['message.sent']);
             SELECT outpost.webhook_endpoint_add('https://b.example/h', ARRAY['message.sent'])"
        )
        .await
    );
    assert!(
        enabled("SELECT outpost.webhook_endpoint_disable(min(id)) FROM outpost.webhook_endpoints")
            .await
    );
    assert!(
        !enabled("SELECT outpost.webhook_endpoint_remove(max(id)) FROM outpost.webhook_endpoints")
            .await
    );
    assert!(
        enabled("SELECT outpost.webhook_endpoint_enable(min(id)) FROM outpost.webhook_endpoints")
            .await
    );
}
