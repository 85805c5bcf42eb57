//! Push through an Airship fake that enforces its contract, and in-app
//! messaging in SQL and through the daemon.

use crate::common;

use std::process::Command;
use std::sync::Arc;

use common::{TestDb, row};
use outpost::message::MessageId;
use serde_json::json;
use wiremock::matchers::{header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

const KEY: &str = "ISex_TTJRuarzs9-o_Gkhg";
const SECRET: &str = "master-secret-0123456789";
const ACCEPT: &str = "application/vnd.urbanairship+json; version=3";

/// An Airship fake: 202 only for the right Accept header and credentials and
/// a body with audience, device_types and notification; like Airship, 406
/// without the version header and 401 with bad credentials.
async fn airship(key: &str, secret: &str) -> MockServer {
    let server = MockServer::start().await;
    use base64::Engine as _;
    let auth = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{key}:{secret}"))
    );
    Mock::given(method("POST"))
        .and(path("/api/push"))
        .and(header("accept", ACCEPT))
        .and(header("authorization", auth.as_str()))
        .and(wiremock::matchers::body_partial_json(json!({})))
        .and(|r: &wiremock::Request| {
            let body: serde_json::Value = serde_json::from_slice(&r.body).unwrap_or_default();
            body.get("audience").is_some()
                && body.get("device_types").is_some()
                && body["notification"]["alert"].as_str().is_some_and(|a| !a.is_empty())
        })
        .respond_with(ResponseTemplate::new(202).set_body_json(json!({
            "ok": true, "operation_id": "op-1234", "push_ids": ["push-5678"], "message_ids": [], "content_urls": []
        })))
        .with_priority(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(wiremock::matchers::header_exists("accept"))
        .and(|r: &wiremock::Request| {
            r.headers.get("accept").and_then(|v| v.to_str().ok()) != Some(ACCEPT)
        })
        .respond_with(ResponseTemplate::new(406))
        .with_priority(2)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(header("accept", ACCEPT))
        .and(|r: &wiremock::Request| {
            let body: serde_json::Value = serde_json::from_slice(&r.body).unwrap_or_default();
            body.get("audience").is_some()
        })
        .respond_with(
            ResponseTemplate::new(401).set_body_json(json!({"ok": false, "error": "Unauthorized"})),
        )
        .with_priority(3)
        .mount(&server)
        .await;
    server
}

fn push_env(base: &str) -> Vec<(String, String)> {
    [
        ("OUTPOST__PUSH__BACKEND", "airship"),
        ("URBANAIRSHIP_APP_KEY", KEY),
        ("URBANAIRSHIP_MASTER_SECRET", SECRET),
        ("OUTPOST__PUSH__BASE_URL", base),
        ("OUTPOST__CHAT__BACKEND", "inapp"),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect()
}

async fn run(db: &TestDb, env: Vec<(String, String)>) {
    let config = db.config_env(env);
    let (channels, _) = db.channels(&config);
    db.dispatcher(&config, channels, "w").drain().await.unwrap();
}

#[tokio::test]
async fn pushes_reach_named_users_and_channels() {
    let server = airship(KEY, SECRET).await;
    let db = TestDb::new().await;
    let client = db.client().await;
    client
        .batch_execute("INSERT INTO outpost.recipients (user_id, push_named_user, locale) VALUES ('42', 'user-42', 'ro')")
        .await
        .unwrap();
    let to_user = common::count(&client, "SELECT outpost.send_user_push_message('42', 'Report ready', options => '{\"title\": \"MEG\", \"deep_link\": \"meg://reports/1\"}')").await;
    let to_device = common::count(
        &client,
        "SELECT outpost.enqueue('push', to_address => 'chan-abc', body => 'Test', options => '{\"device_type\": \"ios\", \"extra\": {\"audit\": 7}}')",
    )
    .await;
    run(&db, push_env(&server.uri())).await;
    for id in [to_user, to_device] {
        assert_eq!(row(&client, MessageId(id)).await, ("sent".into(), 1, None));
    }
    let pmid: String = common::scalar(
        &client,
        "SELECT provider_message_id FROM outpost.messages WHERE id = $1",
        &[&to_user],
    )
    .await;
    assert_eq!(pmid, "push-5678");
    let requests = server.received_requests().await.unwrap();
    let bodies: Vec<serde_json::Value> = requests
        .iter()
        .map(|r| serde_json::from_slice(&r.body).unwrap())
        .collect();
    let named = bodies
        .iter()
        .find(|b| b["audience"].get("named_user").is_some())
        .unwrap();
    assert_eq!(named["audience"], json!({"named_user": "user-42"}));
    assert_eq!(named["device_types"], json!(["ios", "android"]));
    // Translated into the user's language, with title and deep link.
    assert_eq!(named["notification"]["alert"], "Raport gata");
    assert_eq!(named["notification"]["android"]["title"], "MEG");
    assert_eq!(
        named["notification"]["actions"]["open"]["content"],
        "meg://reports/1"
    );
    let device = bodies
        .iter()
        .find(|b| b["audience"].get("ios_channel").is_some())
        .unwrap();
    assert_eq!(device["device_types"], json!(["ios"]));
    assert_eq!(
        device["notification"]["ios"]["extra"],
        json!({"audit": "7"})
    );
}

/// An app key and master secret that look like numbers authenticate as written.
#[tokio::test]
async fn numeric_looking_airship_credentials_reach_airship_as_written() {
    let (key, secret) = ("0123", "00777");
    let server = airship(key, secret).await;
    let db = TestDb::new().await;
    let client = db.client().await;
    let id = common::count(
        &client,
        "SELECT outpost.enqueue('push', to_address => 'chan-abc', body => 'Test')",
    )
    .await;
    let mut env = push_env(&server.uri());
    env.retain(|(k, _)| !k.starts_with("URBANAIRSHIP_"));
    env.push(("URBANAIRSHIP_APP_KEY".into(), key.into()));
    env.push(("URBANAIRSHIP_MASTER_SECRET".into(), secret.into()));
    run(&db, env).await;
    assert_eq!(row(&client, MessageId(id)).await, ("sent".into(), 1, None));
}

#[tokio::test]
async fn airship_errors_are_classified() {
    let db = TestDb::new().await;
    let client = db.client().await;
    let cases = [
        (
            ResponseTemplate::new(400).set_body_json(json!({
                "ok": false, "error": "Could not parse request body.", "error_code": 40202,
                "details": {"error": "'audience' must be set", "location": {"line": 1, "column": 2}}
            })),
            "failed",
            "Airship 400: Could not parse request body. ('audience' must be set)",
        ),
        (
            ResponseTemplate::new(401).set_body_json(json!({"ok": false, "error": "Unauthorized"})),
            "failed",
            "Airship 401: Unauthorized",
        ),
        (
            ResponseTemplate::new(403).set_body_json(json!({"ok": false, "error": "Forbidden"})),
            "failed",
            "Airship 403: Forbidden",
        ),
        (
            ResponseTemplate::new(503),
            "queued",
            "Airship 503: Service Unavailable",
        ),
    ];
    for (response, status, error) in cases {
        let server = MockServer::start().await;
        Mock::given(method("POST"))
            .respond_with(response)
            .mount(&server)
            .await;
        let id = common::count(
            &client,
            "SELECT outpost.enqueue('push', to_address => 'chan-1', body => 'x')",
        )
        .await;
        run(&db, push_env(&server.uri())).await;
        let (s, _, e) = row(&client, MessageId(id)).await;
        assert_eq!((s.as_str(), e.as_deref()), (status, Some(error)));
    }
}

#[tokio::test]
async fn eguide_apps_come_from_the_table_by_options_app() {
    let default_app = airship(KEY, SECRET).await;
    let eguide = airship("eguideKEY_000000000000", "eguide-secret").await;
    let db = TestDb::new().await;
    let client = db.client().await;
    client
        .execute(
            "INSERT INTO outpost.push_apps (name, app_key, master_secret, base_url) VALUES ('eguide', 'eguideKEY_000000000000', 'eguide-secret', $1),
                                                                                          ('retired', 'x', 'y', $1)",
            &[&eguide.uri()],
        )
        .await
        .unwrap();
    client
        .execute(
            "UPDATE outpost.push_apps SET enabled = false WHERE name = 'retired'",
            &[],
        )
        .await
        .unwrap();
    let ok = common::count(&client, "SELECT outpost.enqueue('push', to_address => 'c1', body => 'x', options => '{\"app\": \"eguide\"}')").await;
    let off = common::count(&client, "SELECT outpost.enqueue('push', to_address => 'c1', body => 'x', options => '{\"app\": \"retired\"}')").await;
    run(&db, push_env(&default_app.uri())).await;
    assert_eq!(row(&client, MessageId(ok)).await.0, "sent");
    assert_eq!(eguide.received_requests().await.unwrap().len(), 1);
    assert!(default_app.received_requests().await.unwrap().is_empty());
    let (status, _, error) = row(&client, MessageId(off)).await;
    assert_eq!(status, "failed");
    assert!(
        error
            .unwrap()
            .contains("unknown or disabled push app \"retired\"")
    );
}

#[tokio::test]
async fn the_test_push_command_prints_the_outcome_without_secrets() {
    let server = airship(KEY, SECRET).await;
    let db = TestDb::new().await;
    let out = Command::new(env!("CARGO_BIN_EXE_outpost"))
        .args([
            "push",
            "test",
            "--channel",
            "9c36e8c7-5a73-47c0-9716-99fd3d4197d5",
            "--device-type",
            "android",
        ])
        .env("DATABASE_URL", &db.url)
        .env("URBANAIRSHIP_APP_KEY", KEY)
        .env("URBANAIRSHIP_MASTER_SECRET", SECRET)
        .env("OUTPOST__PUSH__BASE_URL", server.uri())
        .env("RUST_LOG", "debug")
        .output()
        .unwrap();
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    assert!(out.status.success(), "{stderr}");
    assert!(stdout.contains("sent to channel 9c36e8c7-5a73-47c0-9716-99fd3d4197d5 with app default: push id push-5678"), "{stdout}");
    let body: serde_json::Value =
        serde_json::from_slice(&server.received_requests().await.unwrap()[0].body).unwrap();
    assert_eq!(
        body["audience"],
        json!({"android_channel": "9c36e8c7-5a73-47c0-9716-99fd3d4197d5"})
    );
    assert!(!stdout.contains(SECRET) && !stderr.contains(SECRET));

    let failed = Command::new(env!("CARGO_BIN_EXE_outpost"))
        .args(["push", "test", "--channel", "c1"])
        .env("DATABASE_URL", &db.url)
        .env("URBANAIRSHIP_APP_KEY", KEY)
        .env("URBANAIRSHIP_MASTER_SECRET", "wrong-secret")
        .env("OUTPOST__PUSH__BASE_URL", server.uri())
        .output()
        .unwrap();
    assert!(!failed.status.success());
    let stderr = String::from_utf8_lossy(&failed.stderr);
    assert!(stderr.contains("Airship 401"), "{stderr}");
    assert!(!stderr.contains("wrong-secret"));

    let check = Command::new(env!("CARGO_BIN_EXE_outpost"))
        .args(["config", "check"])
        .env("URBANAIRSHIP_APP_KEY", KEY)
        .env("URBANAIRSHIP_MASTER_SECRET", SECRET)
        .output()
        .unwrap();
    let printed = String::from_utf8_lossy(&check.stdout);
    assert!(check.status.success());
    assert!(
        printed.contains("master_secret = \"[redacted]\"") && !printed.contains(SECRET),
        "{printed}"
    );
}

async fn messaging(db: &TestDb) -> tokio_postgres::Client {
    let client = db.client().await;
    client
        .batch_execute(
            "INSERT INTO outpost.recipients (user_id, email, tenant, locale) VALUES
               ('ann', 'ann@example.com', 'hospital-1', 'en'), ('bob', 'bob@example.com', 'hospital-1', 'en'),
               ('cy', 'cy@example.com', 'hospital-1', 'en'), ('dan', 'dan@example.com', 'clinic-2', 'en');
             INSERT INTO outpost.messaging_configs (tenant, enabled) VALUES ('hospital-1', true), ('clinic-2', false);",
        )
        .await
        .unwrap();
    client
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_system_messages_share_one_private_channel() {
    let db = TestDb::new().await;
    let client = messaging(&db).await;
    let url = Arc::new(db.url.clone());
    let mut handles = Vec::new();
    for i in 0..100 {
        let url = url.clone();
        handles.push(tokio::spawn(async move {
            let c = outpost::db::connect(&url).await.unwrap();
            c.query_one(
                "SELECT outpost.send_system_message('ann', $1)",
                &[&format!("report {i}")],
            )
            .await
            .unwrap()
            .get::<_, i64>(0)
        }));
    }
    for h in handles {
        h.await.unwrap();
    }
    assert_eq!(
        common::count(
            &client,
            "SELECT count(*) FROM outpost.chat_channels WHERE owner = 'ann'"
        )
        .await,
        1
    );
    assert_eq!(
        common::count(&client, "SELECT count(*) FROM outpost.chat_messages").await,
        100
    );
    assert_eq!(
        common::count(
            &client,
            "SELECT count(*) FROM outpost.messages WHERE kind = 'push' AND to_user = 'ann'"
        )
        .await,
        100
    );

    // Reading: unread counts, pages, marking read.
    let unread: i64 = common::scalar(
        &client,
        "SELECT unread FROM outpost.chat_channels_for('ann')",
        &[],
    )
    .await;
    assert_eq!(unread, 100);
    let channel: i64 = common::count(
        &client,
        "SELECT id FROM outpost.chat_channels WHERE owner = 'ann'",
    )
    .await;
    let page: Vec<i64> = client
        .query(
            "SELECT id FROM outpost.chat_messages_page($1, page_size => 30)",
            &[&channel],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(page.len(), 30);
    assert!(page.windows(2).all(|w| w[0] > w[1]), "newest first");
    let next: i64 = client
        .query_one("SELECT count(*) FROM outpost.chat_messages_page($1, before_id => $2, page_size => 500)", &[&channel, &page[29]])
        .await
        .unwrap()
        .get(0);
    assert_eq!(next, 70);
    let marked: i64 = common::scalar(
        &client,
        "SELECT outpost.chat_mark_read($1, 'ann')",
        &[&channel],
    )
    .await;
    assert_eq!(marked, 100);
    let unread: i64 = common::scalar(
        &client,
        "SELECT unread FROM outpost.chat_channels_for('ann')",
        &[],
    )
    .await;
    assert_eq!(unread, 0);
}

#[tokio::test]
async fn a_disabled_tenant_gets_no_chat_messages() {
    let db = TestDb::new().await;
    let client = messaging(&db).await;
    let err = client
        .query_one("SELECT outpost.send_system_message('dan', 'hi')", &[])
        .await
        .unwrap_err();
    assert_eq!(
        err.as_db_error().unwrap().message(),
        "messaging not enabled for tenant clinic-2"
    );
    let queued = common::count(
        &client,
        "SELECT outpost.send_system_message_template('dan', 'welcome', '{\"name\": \"Dan\", \"site\": \"MEG\", \"messages\": 1, \"url\": \"u\"}')",
    )
    .await;
    run(&db, push_env("http://127.0.0.1:9")).await;
    assert_eq!(
        row(&client, MessageId(queued)).await,
        (
            "failed".into(),
            1,
            Some("messaging not enabled for tenant clinic-2".into())
        )
    );
    assert_eq!(
        common::count(&client, "SELECT count(*) FROM outpost.chat_messages").await,
        0
    );
}

#[tokio::test]
async fn templated_system_messages_are_rendered_and_pushed() {
    let server = airship(KEY, SECRET).await;
    let db = TestDb::new().await;
    let client = messaging(&db).await;
    let ctx = r#"{"name": "Ann", "site": "MEG", "messages": 2, "url": "https://meg.test"}"#;
    let html = common::count(
        &client,
        &format!("SELECT outpost.send_system_message_template('ann', 'welcome', '{ctx}', 'html')"),
    )
    .await;
    let text = common::count(
        &client,
        &format!("SELECT outpost.send_system_message_template('ann', 'welcome', '{ctx}')"),
    )
    .await;
    run(&db, push_env(&server.uri())).await;
    for id in [html, text] {
        assert_eq!(row(&client, MessageId(id)).await.0, "sent");
    }
    let rows = client
        .query("SELECT format, body, outbox_message_id FROM outpost.chat_messages ORDER BY outbox_message_id", &[])
        .await
        .unwrap();
    assert_eq!(rows.len(), 2);
    assert_eq!(rows[0].get::<_, String>(0), "html");
    assert!(
        rows[0]
            .get::<_, String>(1)
            .contains("<a href=\"https://meg.test\">Sign in</a>")
    );
    assert_eq!(rows[0].get::<_, Option<i64>>(2), Some(html));
    assert_eq!(rows[1].get::<_, String>(0), "plaintext");
    assert!(rows[1].get::<_, String>(1).starts_with("Hello Ann,"));
    // Each queued a push, which the same drain delivered, tags stripped.
    let pushes = server.received_requests().await.unwrap();
    assert_eq!(pushes.len(), 2);
    let alert: serde_json::Value = serde_json::from_slice(&pushes[0].body).unwrap();
    assert!(
        !alert["notification"]["alert"]
            .as_str()
            .unwrap()
            .contains('<')
    );
}

#[tokio::test]
async fn user_messages_fan_out_and_cannot_be_html() {
    let db = TestDb::new().await;
    let client = messaging(&db).await;
    let channel = common::count(&client, "INSERT INTO outpost.chat_channels (kind, tenant, subject) VALUES ('group', 'hospital-1', 'Ward 4') RETURNING id").await;
    client
        .execute(
            "INSERT INTO outpost.chat_members (channel_id, user_id) SELECT $1, u FROM unnest(ARRAY['ann', 'bob', 'cy']) u",
            &[&channel],
        )
        .await
        .unwrap();
    client
        .execute("INSERT INTO outpost.chat_messages (channel_id, sender, body) VALUES ($1, 'ann', 'Audit at 3pm')", &[&channel])
        .await
        .unwrap();
    let pushed: Vec<String> = client
        .query(
            "SELECT to_user FROM outpost.messages WHERE kind = 'push' ORDER BY to_user",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(pushed, ["bob", "cy"]);
    let err = client
        .execute(
            "INSERT INTO outpost.chat_messages (channel_id, sender, body, format) VALUES ($1, 'ann', '<script>x</script>', 'html')",
            &[&channel],
        )
        .await
        .unwrap_err();
    assert_eq!(
        err.as_db_error().unwrap().constraint(),
        Some("chat_messages_html_only_from_system")
    );
    // Tenants that do not push on messages queue nothing.
    client
        .execute(
            "UPDATE outpost.messaging_configs SET push_on_message = false",
            &[],
        )
        .await
        .unwrap();
    client
        .execute(
            "INSERT INTO outpost.chat_messages (channel_id, sender, body) VALUES ($1, 'bob', 'ok')",
            &[&channel],
        )
        .await
        .unwrap();
    assert_eq!(
        common::count(
            &client,
            "SELECT count(*) FROM outpost.messages WHERE kind = 'push'"
        )
        .await,
        2
    );
}

#[tokio::test]
async fn sent_emails_are_mirrored_into_the_private_channel() {
    let db = TestDb::new().await;
    let client = messaging(&db).await;
    let mirrored = common::count(
        &client,
        "SELECT outpost.send_simple_mail('Monthly report', 'Scores are up.', to_user => 'ann')",
    )
    .await;
    let opted_out = common::count(
        &client,
        "SELECT outpost.send_simple_mail('Private', 'Not for chat.', to_user => 'bob', options => '{\"mirror_to_chat\": false}')",
    )
    .await;
    let disabled = common::count(
        &client,
        "SELECT outpost.send_simple_mail('Clinic', 'Messaging off.', to_user => 'dan')",
    )
    .await;
    let by_address = common::count(
        &client,
        "SELECT outpost.send_simple_mail('Direct', 'No user.', to_address => 'x@example.com')",
    )
    .await;
    run(&db, push_env("http://127.0.0.1:9")).await;
    for id in [mirrored, opted_out, disabled, by_address] {
        assert_eq!(row(&client, MessageId(id)).await.0, "sent", "e-mail {id}");
    }
    let rows = client
        .query("SELECT c.owner, m.body, m.outbox_message_id FROM outpost.chat_messages m JOIN outpost.chat_channels c ON c.id = m.channel_id", &[])
        .await
        .unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].get::<_, Option<String>>(0).as_deref(), Some("ann"));
    assert_eq!(
        rows[0].get::<_, String>(1),
        "Monthly report\n\nScores are up."
    );
    assert_eq!(rows[0].get::<_, Option<i64>>(2), Some(mirrored));
    let note: Option<String> = common::scalar(
        &client,
        "SELECT note FROM outpost.attempts WHERE message_id = $1",
        &[&mirrored],
    )
    .await;
    assert!(note.unwrap().starts_with("mirrored to chat message"));
    // The mirror does not push: the user already has the e-mail.
    assert_eq!(
        common::count(
            &client,
            "SELECT count(*) FROM outpost.messages WHERE kind = 'push'"
        )
        .await,
        0
    );
    // The config default can turn mirroring off.
    let mut env = push_env("http://127.0.0.1:9");
    env.push(("OUTPOST__CHAT__MIRROR_EMAIL".into(), "false".into()));
    common::count(
        &client,
        "SELECT outpost.send_simple_mail('Again', 'Twice.', to_user => 'ann')",
    )
    .await;
    run(&db, env).await;
    assert_eq!(
        common::count(&client, "SELECT count(*) FROM outpost.chat_messages").await,
        1
    );
}

/// Push on the console backend goes through Airship's checks and rendering
/// and prints the request Airship would get: development shows what
/// production will do.
#[tokio::test]
async fn the_console_push_backend_checks_and_renders_like_airship() {
    let db = TestDb::new().await;
    let client = db.client().await;
    client
        .execute(
            "INSERT INTO outpost.recipients (user_id, push_named_user) VALUES ('u-7', 'u-7')",
            &[],
        )
        .await
        .unwrap();
    let bad_type: i64 = common::scalar(
        &client,
        "INSERT INTO outpost.messages (kind, to_address, body, options)
             VALUES ('push', 'channel-1', 'Hi', '{\"device_type\": \"blackberry\"}') RETURNING id",
        &[],
    )
    .await;
    let no_template: i64 = common::scalar(&client, "INSERT INTO outpost.messages (kind, to_address, template) VALUES ('push', 'channel-2', 'no-such-template') RETURNING id", &[]).await;
    let good: i64 = common::scalar(&client, "INSERT INTO outpost.messages (kind, to_user, body, options)
             VALUES ('push', 'u-7', 'Your report is ready', '{\"title\": \"MEG\", \"deep_link\": \"meg://r/1\"}') RETURNING id", &[]).await;
    let config = db.config(&[]);
    let (channels, sink) = db.channels(&config);
    let d = db.dispatcher(&config, channels, "console-push");
    assert_eq!(d.run_once().await.unwrap(), 3);
    let (status, _, error) = row(&client, MessageId(bad_type)).await;
    assert_eq!(status, "failed");
    assert!(error.unwrap().contains("blackberry"));
    let (status, _, error) = row(&client, MessageId(no_template)).await;
    assert_eq!(status, "failed");
    assert!(error.unwrap().contains("no-such-template"));
    assert_eq!(row(&client, MessageId(good)).await.0, "sent");
    let printed = String::from_utf8(sink.lock().unwrap().clone()).unwrap();
    assert!(printed.contains("\"named_user\": \"u-7\""), "{printed}");
    assert!(
        printed.contains("\"alert\": \"Your report is ready\""),
        "{printed}"
    );
    assert!(printed.contains("meg://r/1"), "{printed}");
    assert!(!printed.contains("channel-1"), "a refused push was printed");
}

/// Chat on the console backend renders and checks as the in-app backend does.
#[tokio::test]
async fn the_console_chat_backend_checks_and_renders_like_the_app() {
    let db = TestDb::new().await;
    let client = db.client().await;
    let insert = |sql: &'static str| {
        let client = &client;
        async move { client.query_one(sql, &[]).await.unwrap().get::<_, i64>(0) }
    };
    let bad_format = insert("INSERT INTO outpost.messages (kind, to_address, body, options) VALUES ('chat', 'u-1', 'Hi', '{\"format\": \"markdown\"}') RETURNING id").await;
    let no_template = insert("INSERT INTO outpost.messages (kind, to_address, template) VALUES ('chat', 'u-2', 'no-such-template') RETURNING id").await;
    let good = insert("INSERT INTO outpost.messages (kind, to_address, body) VALUES ('chat', 'u-3', 'Audit due tomorrow') RETURNING id").await;
    let config = db.config(&[]);
    let (channels, sink) = db.channels(&config);
    let d = db.dispatcher(&config, channels, "console-chat");
    assert_eq!(d.run_once().await.unwrap(), 3);
    let (status, _, error) = row(&client, MessageId(bad_format)).await;
    assert_eq!(status, "failed");
    assert!(error.unwrap().contains("markdown"));
    let (status, _, error) = row(&client, MessageId(no_template)).await;
    assert_eq!(status, "failed");
    assert!(error.unwrap().contains("no-such-template"));
    assert_eq!(row(&client, MessageId(good)).await.0, "sent");
    let printed = String::from_utf8(sink.lock().unwrap().clone()).unwrap();
    assert!(
        printed.contains("Format: plaintext\n\nAudit due tomorrow"),
        "{printed}"
    );
    assert!(!printed.contains("u-1"), "a refused message was printed");
}
