//! Write-only secrets cannot be read back by pointing them elsewhere (issue
//! 26, point 5): an SMTP server's password and a push app's master secret
//! are cleared when their destination changes; a password never goes out in
//! plain text off loopback, in the console's tests or in `smtp_db` delivery.
//! Real peers: aiosmtpd (one of them a plain-text "rogue" server that
//! records every AUTH it is offered) and a wiremock Airship.

use std::time::{Duration, Instant};

use crate::common;

use base64::Engine as _;
use common::console::{ADMIN, Agent, Console, Reply};
use common::smtp::{PASSWORD, SmtpPeer, USER};
use common::{TestDb, row};
use reqwest::StatusCode;
use serde_json::json;

/// An SMTP server form as the console's page posts it.
struct Server<'a> {
    host: &'a str,
    port: &'a str,
    username: &'a str,
    password: &'a str,
    security: &'a str,
}

async fn save(admin: &mut Agent, path: &str, s: &Server<'_>) -> Reply {
    admin
        .post(
            path,
            &[
                ("name", "relay"),
                ("host", s.host),
                ("port", s.port),
                ("username", s.username),
                ("password", s.password),
                ("security", s.security),
                ("order", "10"),
                ("timeout_seconds", "5"),
                ("enabled", "1"),
            ],
        )
        .await
}

async fn stored_password(db: &TestDb) -> String {
    common::scalar(
        &db.client().await,
        "SELECT password FROM outpost.smtp_servers WHERE name = 'relay'",
        &[],
    )
    .await
}

#[tokio::test]
async fn an_smtp_server_repointed_loses_its_password_and_the_new_host_never_gets_it() {
    let legit = SmtpPeer::start("starttls");
    let rogue = SmtpPeer::start_with("plain", USER, "typed-for-the-rogue");
    let db = TestDb::new().await;
    let cert = legit.cert_path().display().to_string();
    let console = Console::start(&db, &[("OUTPOST__EMAIL__SMTP__CA_FILE", &cert)]).await;
    let mut admin = console.signed_in(ADMIN).await;
    admin.get("/smtp-servers/new").await;
    let legit_port = legit.port.to_string();
    let original = Server {
        host: "localhost",
        port: &legit_port,
        username: USER,
        password: PASSWORD,
        security: "starttls",
    };
    let (status, _, body) = save(&mut admin, "/smtp-servers", &original).await;
    assert_eq!(status, StatusCode::SEE_OTHER, "{body}");
    let id: i64 = common::scalar(
        &db.client().await,
        "SELECT id FROM outpost.smtp_servers WHERE name = 'relay'",
        &[],
    )
    .await;
    let edit = format!("/smtp-servers/{id}");
    let test = format!("/smtp-servers/{id}/test");
    let (status, _, body) = admin.post(&test, &[]).await;
    assert_eq!(status, StatusCode::OK, "{body}");

    // Each of host, port, user name and security changed alone, with the
    // password field left empty, clears the password.
    let other_port = common::free_port().to_string();
    for (field, changed) in [
        (
            "host",
            Server {
                host: "127.0.0.1",
                ..original
            },
        ),
        (
            "port",
            Server {
                port: &other_port,
                ..original
            },
        ),
        (
            "user name",
            Server {
                username: "someone-else",
                ..original
            },
        ),
        (
            "security",
            Server {
                security: "tls",
                ..original
            },
        ),
    ] {
        save(&mut admin, &edit, &original).await;
        assert_eq!(stored_password(&db).await, PASSWORD);
        let (status, _, body) = save(
            &mut admin,
            &edit,
            &Server {
                password: "",
                ..changed
            },
        )
        .await;
        assert_eq!(status, StatusCode::SEE_OTHER, "{body}");
        assert_eq!(
            stored_password(&db).await,
            "",
            "{field} changed: the password stays"
        );
    }
    // An edit that keeps the destination (the host's case aside) keeps it.
    save(&mut admin, &edit, &original).await;
    let same = Server {
        host: "LOCALHOST",
        password: "",
        ..original
    };
    save(&mut admin, &edit, &same).await;
    assert_eq!(stored_password(&db).await, PASSWORD);

    // Issue 26's attack: point the server at another host, no TLS, password
    // left empty, then "Test connection".
    let rogue_port = rogue.port.to_string();
    let repoint = Server {
        host: "127.0.0.1",
        port: &rogue_port,
        username: USER,
        password: "",
        security: "none",
    };
    save(&mut admin, &edit, &repoint).await;
    assert_eq!(stored_password(&db).await, "");
    let (status, _, body) = admin.post(&test, &[]).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert!(
        body.contains("no password") && body.contains(&format!("127.0.0.1:{rogue_port}")),
        "{body}"
    );
    let (status, _, _) = admin
        .post(
            &format!("/smtp-servers/{id}/send-test"),
            &[("to", "ops@example.com")],
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(rogue.auth_attempts().is_empty(), "the rogue got an AUTH");
    let (_, _, audit) = admin.get("/audit-log").await;
    assert!(
        audit.contains("cleared: host, port, user name or security changed"),
        "the audit row says the password was cleared"
    );

    // A password typed in the same form as the re-point is the one sent there.
    save(
        &mut admin,
        &edit,
        &Server {
            password: "typed-for-the-rogue",
            ..repoint
        },
    )
    .await;
    let (status, _, body) = admin.post(&test, &[]).await;
    assert_eq!(
        status,
        StatusCode::OK,
        "plain text to loopback is allowed: {body}"
    );
    assert!(
        body.contains(&format!("Connected to relay at 127.0.0.1:{rogue_port}")),
        "the page names what it contacted: {body}"
    );
    assert_eq!(
        rogue.auth_attempts(),
        vec![(USER.to_owned(), "typed-for-the-rogue".to_owned())]
    );
    assert!(legit.auth_attempts().iter().all(|(_, p)| p == PASSWORD));
}

#[tokio::test]
async fn a_password_is_never_sent_in_plain_text_off_loopback() {
    let db = TestDb::new().await;
    let console = Console::start(&db, &[]).await;
    let mut admin = console.signed_in(ADMIN).await;
    admin.get("/smtp-servers/new").await;
    // 192.0.2.1 (TEST-NET-1) routes nowhere: a connection would hang until the timeout.
    let remote = Server {
        host: "192.0.2.1",
        port: "25",
        username: USER,
        password: "remote-secret",
        security: "none",
    };
    let (status, _, body) = save(&mut admin, "/smtp-servers", &remote).await;
    assert_eq!(status, StatusCode::SEE_OTHER, "{body}");
    let id: i64 = common::scalar(
        &db.client().await,
        "SELECT id FROM outpost.smtp_servers WHERE name = 'relay'",
        &[],
    )
    .await;
    for (action, fields) in [
        ("test", vec![]),
        ("send-test", vec![("to", "ops@example.com")]),
    ] {
        let started = Instant::now();
        let (status, _, body) = admin
            .post(&format!("/smtp-servers/{id}/{action}"), &fields)
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{action}: {body}");
        assert!(
            body.contains("refusing to send the password in plain text")
                && body.contains("192.0.2.1:25")
                && !body.contains("remote-secret"),
            "{body}"
        );
        assert!(
            started.elapsed() < Duration::from_secs(3),
            "refused before connecting"
        );
    }

    // Delivery through smtp_db refuses it too: the message waits with the
    // reason (an operator fixes the row), no connection is made.
    let client = db.client().await;
    let config = db.config(&[("OUTPOST__EMAIL__BACKEND", "smtp_db")]);
    let (channels, _) = db.channels(&config);
    let dispatcher = db.dispatcher(&config, channels, "w");
    let waiting = db.email(&client, "ops@example.com").await;
    let started = Instant::now();
    dispatcher.run_once().await.unwrap();
    assert!(started.elapsed() < Duration::from_secs(3));
    let (status, _, error) = row(&client, waiting).await;
    let error = error.unwrap_or_default();
    assert_eq!(status, "queued", "{error}");
    assert!(
        error.contains("plain text")
            && error.contains("192.0.2.1:25")
            && !error.contains("remote-secret"),
        "{error}"
    );

    // On loopback plain text is allowed: a local relay gets the mail, with AUTH.
    let local = SmtpPeer::start_with("plain", USER, PASSWORD);
    client
        .execute(
            "UPDATE outpost.smtp_servers SET host = '127.0.0.1', port = $1, password = $2",
            &[&i32::from(local.port), &PASSWORD],
        )
        .await
        .unwrap();
    let sent = db.email(&client, "ops@example.com").await;
    dispatcher.run_once().await.unwrap();
    assert_eq!(row(&client, sent).await.0, "sent");
    // (The message that waited may have gone too once its retry came due.)
    let received = local.received();
    assert!(!received.is_empty());
    assert!(received.iter().all(|r| r.envelope["auth"] == json!(true)));
}

async fn stored_secret(db: &TestDb) -> String {
    common::scalar(
        &db.client().await,
        "SELECT master_secret FROM outpost.push_apps WHERE name = 'eguide'",
        &[],
    )
    .await
}

#[tokio::test]
async fn a_push_app_repointed_loses_its_master_secret() {
    use wiremock::matchers::{method, path};
    use wiremock::{Mock, MockServer, ResponseTemplate};
    let elsewhere = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/api/push"))
        .respond_with(ResponseTemplate::new(202).set_body_json(json!({
            "ok": true, "operation_id": "op-1", "push_ids": ["push-1"]
        })))
        .mount(&elsewhere)
        .await;
    let db = TestDb::new().await;
    let console = Console::start(&db, &[]).await;
    let mut admin = console.signed_in(ADMIN).await;
    admin.get("/push-apps/new").await;
    let app = |key: &'static str, secret: &'static str, url: String| {
        [("app_key", key), ("master_secret", secret)]
            .into_iter()
            .map(|(k, v)| (k, v.to_owned()))
            .chain([("base_url", url)])
            .collect::<Vec<_>>()
    };
    let post = async |admin: &mut Agent, path: &str, fields: Vec<(&str, String)>| {
        let fields: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
        admin.post(path, &fields).await
    };
    let airship = "https://go.airship.eu".to_owned();
    let mut fields = app("key-1", "first-secret", airship.clone());
    fields.extend([("name", "eguide".to_owned()), ("enabled", "1".to_owned())]);
    let (status, _, _) = post(&mut admin, "/push-apps", fields).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    // A new app key alone keeps the secret (it goes to the same place).
    post(&mut admin, "/push-apps/eguide", app("key-2", "", airship)).await;
    assert_eq!(stored_secret(&db).await, "first-secret");
    // A new base URL without the secret typed again clears it.
    post(
        &mut admin,
        "/push-apps/eguide",
        app("key-2", "", elsewhere.uri()),
    )
    .await;
    assert_eq!(stored_secret(&db).await, "");
    let (_, _, audit) = admin.get("/audit-log").await;
    assert!(audit.contains("cleared: base URL changed"));
    let test = [
        ("app", "eguide"),
        ("channel", "chan-1"),
        ("device_type", "android"),
    ];
    let (status, _, body) = admin.post("/push-apps/test", &test).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert!(body.contains("no master secret"), "{body}");
    assert!(elsewhere.received_requests().await.unwrap().is_empty());
    // Delivery waits for an operator rather than pushing without a secret.
    let pool = outpost::db::pool(&db.url, 1).unwrap();
    let refused = outpost::channel::airship::find_app(&pool, "eguide")
        .await
        .expect_err("an app without its secret is not used");
    assert!(
        refused.message.contains("no master secret"),
        "{}",
        refused.message
    );
    assert_eq!(refused.class, outpost::channel::ErrorClass::Transient);

    // Typed in the same form as the new URL: that secret, and only it, goes there.
    post(
        &mut admin,
        "/push-apps/eguide",
        app("key-2", "second-secret", elsewhere.uri()),
    )
    .await;
    let (status, _, body) = admin.post("/push-apps/test", &test).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let requests = elsewhere.received_requests().await.unwrap();
    assert_eq!(requests.len(), 1);
    let basic = |secret: &str| {
        format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(format!("key-2:{secret}"))
        )
    };
    assert_eq!(
        requests[0].headers["authorization"],
        basic("second-secret").as_str()
    );
}
