//! The operator console over real HTTP on a real PostgreSQL: every page and
//! action, sessions, roles, form tokens, origin checks, write-only secrets,
//! and a failed message found, retried and delivered.

use crate::common;

use common::console::{ADMIN, Agent, Console, VIEWER};
use common::{TestDb, row};
use outpost::message::MessageId;
use reqwest::StatusCode;
use serde_json::json;

/// A message that failed: its SMTP server was unreachable and it had one attempt.
async fn failed_email(db: &TestDb, address: &str) -> MessageId {
    let client = db.client().await;
    let id = db.email(&client, address).await;
    client
        .execute(
            "UPDATE outpost.messages SET max_attempts = 1 WHERE id = $1",
            &[&id.0],
        )
        .await
        .unwrap();
    let port = common::free_port().to_string();
    let config = db.config(&[
        ("OUTPOST__EMAIL__BACKEND", "smtp"),
        ("OUTPOST__EMAIL__SMTP__HOST", "127.0.0.1"),
        ("OUTPOST__EMAIL__SMTP__PORT", &port),
        ("OUTPOST__EMAIL__SMTP__TIMEOUT", "2s"),
    ]);
    let (channels, _) = db.channels(&config);
    db.dispatcher(&config, channels, "w-down")
        .drain()
        .await
        .unwrap();
    assert_eq!(row(&client, id).await.0, "failed");
    id
}

#[tokio::test]
async fn only_login_and_the_stylesheet_are_public() {
    let db = TestDb::new().await;
    let console = Console::start(&db, &[]).await;
    let mut anonymous = console.agent();
    let base = anonymous.base.clone();
    // Any other path, known or not, asks for a session first.
    let (status, headers, _) = anonymous.get("/no-such-page").await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(headers["location"], "/login?next=%2Fno-such-page");
    assert_eq!(anonymous.get("/static/console.css").await.0, StatusCode::OK);
    let (status, _, body) = anonymous
        .post_with("/messages/1/retry", &[], &[("origin", &base)])
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(body.contains("Sign in first"), "{body}");
    // The origin check comes before everything, the login form included.
    let (status, _, body) = anonymous
        .post_with(
            "/login",
            &[("name", ADMIN.0), ("password", ADMIN.1)],
            &[("origin", "http://evil.example")],
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(body.contains("origin check failed"), "{body}");
    let mut admin = console.signed_in(ADMIN).await;
    assert_eq!(admin.get("/no-such-page").await.0, StatusCode::NOT_FOUND);
    assert_eq!(admin.get("/logout").await.0, StatusCode::METHOD_NOT_ALLOWED);
}

#[tokio::test]
async fn pages_need_a_session_and_carry_security_headers() {
    let db = TestDb::new().await;
    let console = Console::start(&db, &[]).await;
    let mut anonymous = console.agent();
    let (status, headers, _) = anonymous.get("/messages?status=failed").await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(
        headers["location"],
        "/login?next=%2Fmessages%3Fstatus%3Dfailed"
    );
    let (status, headers, body) = anonymous.get("/login").await;
    assert_eq!(status, StatusCode::OK);
    assert!(body.contains("Sign in"));
    let csp = headers["content-security-policy"].to_str().unwrap();
    assert!(csp.contains("frame-ancestors 'none'") && csp.contains("default-src 'none'"));
    assert!(!csp.contains("script-src"), "no scripts at all: {csp}");
    assert_eq!(headers["x-content-type-options"], "nosniff");
    assert!(!body.contains("<script"));

    let (status, _, body) = anonymous.login(ADMIN.0, "wrong password").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(body.contains("Wrong user name or password"));
    assert!(anonymous.cookie.is_none());
    let (status, headers, _) = anonymous.login(ADMIN.0, ADMIN.1).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let cookie = headers["set-cookie"].to_str().unwrap();
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"),
        "{cookie}"
    );
    assert!(
        !cookie.contains("Secure"),
        "loopback listener: no Secure flag: {cookie}"
    );
    // The session is a row; the cookie's token is stored only as its hash.
    let client = db.client().await;
    let stored: String = common::scalar(
        &client,
        "SELECT token_hash FROM outpost.console_sessions",
        &[],
    )
    .await;
    assert_ne!(&stored, anonymous.cookie.as_ref().unwrap());
    let (status, _, body) = anonymous.get("/").await;
    assert_eq!(status, StatusCode::OK);
    assert!(body.contains("Overview") && body.contains("admin (admin)"));

    // Logout deletes the row: the same cookie no longer opens anything.
    let kept = anonymous.cookie.clone();
    let (status, _, _) = anonymous.post("/logout", &[]).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let n: i64 = common::scalar(
        &client,
        "SELECT count(*) FROM outpost.console_sessions",
        &[],
    )
    .await;
    assert_eq!(n, 0);
    anonymous.cookie = kept;
    assert_eq!(anonymous.get("/").await.0, StatusCode::SEE_OTHER);
}

#[tokio::test]
async fn a_cookie_is_secure_off_loopback_and_the_console_refuses_the_webhook_port() {
    let db = TestDb::new().await;
    let config = db.config(&[
        ("OUTPOST__CONSOLE__ENABLED", "true"),
        ("OUTPOST__CONSOLE__LISTEN", "0.0.0.0:8026"),
    ]);
    assert!(config.console.secure_cookies());
    let err = outpost::config::Config::load(&outpost::config::Sources {
        file: None,
        env: vec![
            ("OUTPOST__CONSOLE__ENABLED".into(), "true".into()),
            ("OUTPOST__CONSOLE__LISTEN".into(), "127.0.0.1:8025".into()),
        ],
    })
    .unwrap_err()
    .to_string();
    assert!(
        err.contains("console.listen") && err.contains("webhook port"),
        "{err}"
    );
}

#[tokio::test]
async fn login_attempts_are_rate_limited_per_user_and_address() {
    let db = TestDb::new().await;
    let console = Console::start(
        &db,
        &[
            ("OUTPOST__CONSOLE__LOGIN_BURST", "3"),
            ("OUTPOST__CONSOLE__LOGIN_ADDRESS_BURST", "5"),
            ("OUTPOST__CONSOLE__LOGIN_PERIOD", "1h"),
        ],
    )
    .await;
    let mut agent = console.agent();
    for _ in 0..3 {
        assert_eq!(
            agent.login(ADMIN.0, "guess").await.0,
            StatusCode::UNAUTHORIZED
        );
    }
    let (status, _, body) = agent.login(ADMIN.0, ADMIN.1).await;
    assert_eq!(
        status,
        StatusCode::TOO_MANY_REQUESTS,
        "even the right password waits"
    );
    assert!(body.contains("Too many login attempts"));
    // Another user from the same address still signs in, until the
    // address's own allowance (failures for any name) is spent.
    assert_eq!(
        agent.login(VIEWER.0, VIEWER.1).await.0,
        StatusCode::SEE_OTHER
    );
    for name in ["root", "ops"] {
        assert_eq!(agent.login(name, "guess").await.0, StatusCode::UNAUTHORIZED);
    }
    assert_eq!(
        agent.login(VIEWER.0, VIEWER.1).await.0,
        StatusCode::TOO_MANY_REQUESTS
    );
}

#[tokio::test]
async fn a_failed_message_is_found_by_filter_retried_and_delivered() {
    let db = TestDb::new().await;
    let client = db.client().await;
    let other = db.email(&client, "someone@example.com").await;
    let id = failed_email(&db, "dr.byrne@example.com").await;
    let console = Console::start(&db, &[]).await;
    let mut admin = console.signed_in(ADMIN).await;

    let (status, _, body) = admin
        .get("/messages?status=failed&address=dr.byrne%40example.com")
        .await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        body.contains(&format!("href=\"/messages/{}\"", id.0)),
        "{body}"
    );
    assert!(!body.contains(&format!("href=\"/messages/{}\"", other.0)));
    let (_, _, body) = admin.get(&format!("/messages/{}", id.0)).await;
    assert!(
        body.contains("attempt 1: failed") && body.contains("unreachable"),
        "{body}"
    );
    assert!(body.contains("enqueued"));

    let (status, _, body) = admin.post(&format!("/messages/{}/retry", id.0), &[]).await;
    assert_eq!(status, StatusCode::OK);
    assert!(body.contains("queued again"), "{body}");
    assert_eq!(row(&client, id).await.0, "queued");

    // The provider is back: a dispatcher with a working backend delivers it.
    let config = db.config(&[]);
    let (channels, sink) = db.channels(&config);
    db.dispatcher(&config, channels, "w-up")
        .drain()
        .await
        .unwrap();
    assert_eq!(row(&client, id).await.0, "sent");
    assert!(String::from_utf8_lossy(&sink.lock().unwrap()).contains("dr.byrne@example.com"));
    let (_, _, body) = admin.get(&format!("/messages/{}", id.0)).await;
    assert!(body.contains("attempt 2: sent"), "{body}");
    let (_, _, audit) = admin.get("/audit-log").await;
    assert!(audit.contains("message.retry") && audit.contains(&format!("message {}", id.0)));
    // A second retry of a sent message does nothing and says why.
    let (_, _, body) = admin.post(&format!("/messages/{}/retry", id.0), &[]).await;
    assert!(
        body.contains("is sent: only a finished, unsent message can be retried"),
        "{body}"
    );
}

#[tokio::test]
async fn a_viewer_sees_everything_and_changes_nothing() {
    let db = TestDb::new().await;
    let id = failed_email(&db, "ann@example.com").await;
    let console = Console::start(&db, &[]).await;
    let mut viewer = console.signed_in(VIEWER).await;
    for page in [
        "/",
        "/messages",
        "/smtp-servers",
        "/push-apps",
        "/audit-log",
    ] {
        assert_eq!(viewer.get(page).await.0, StatusCode::OK, "{page}");
    }
    let (_, _, body) = viewer.get(&format!("/messages/{}", id.0)).await;
    assert!(
        !body.contains("id=\"retry\""),
        "no retry button for a viewer"
    );
    let (status, _, body) = viewer.post(&format!("/messages/{}/retry", id.0), &[]).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(body.contains("Viewers cannot change anything"));
    assert_eq!(row(&db.client().await, id).await.0, "failed");
    let (status, _, _) = viewer
        .post(
            "/smtp-servers",
            &[
                ("name", "x"),
                ("host", "h"),
                ("port", "25"),
                ("security", "none"),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    // Viewers may sign out.
    assert_eq!(viewer.post("/logout", &[]).await.0, StatusCode::SEE_OTHER);
}

#[tokio::test]
async fn a_post_without_the_token_or_from_another_origin_is_refused() {
    let db = TestDb::new().await;
    let id = failed_email(&db, "ann@example.com").await;
    let console = Console::start(&db, &[]).await;
    let mut admin = console.signed_in(ADMIN).await;
    let path = format!("/messages/{}/retry", id.0);
    let token = admin.csrf.clone().unwrap();
    let base = admin.base.clone();
    type Pairs<'a> = Vec<(&'a str, &'a str)>;
    let cases: Vec<(&str, Pairs, Pairs)> = vec![
        ("no token", vec![], vec![("origin", &base)]),
        (
            "wrong token",
            vec![("csrf", "0000")],
            vec![("origin", &base)],
        ),
        (
            "other origin",
            vec![("csrf", &token)],
            vec![("origin", "http://evil.example")],
        ),
        (
            "cross-site fetch",
            vec![("csrf", &token)],
            vec![("origin", &base), ("sec-fetch-site", "cross-site")],
        ),
        ("no origin at all", vec![("csrf", &token)], vec![]),
    ];
    for (case, fields, headers) in cases {
        let (status, _, _) = admin.post_with(&path, &fields, &headers).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{case}");
        assert_eq!(row(&db.client().await, id).await.0, "failed", "{case}");
    }
    // A token from another session does not work either.
    let mut other = console.signed_in(ADMIN).await;
    let other_token = other.csrf.clone().unwrap();
    assert_ne!(other_token, token);
    let (status, _, _) = admin
        .post_with(&path, &[("csrf", &other_token)], &[("origin", &base)])
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    // Same-origin fetch metadata alone is accepted, as browsers send it.
    let (status, _, _) = admin
        .post_with(
            &path,
            &[("csrf", &token)],
            &[("sec-fetch-site", "same-origin")],
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(row(&db.client().await, id).await.0, "queued");
    let _ = other.get("/").await;
}

#[tokio::test]
async fn bulk_retry_and_cancel_count_confirm_and_act() {
    let db = TestDb::new().await;
    let client = db.client().await;
    let mut failed = Vec::new();
    for i in 0..3 {
        failed.push(failed_email(&db, &format!("bulk{i}@example.com")).await);
    }
    let queued_a = db.email(&client, "wait-a@example.com").await;
    let queued_b = db.email(&client, "wait-b@example.com").await;
    client
        .execute(
            "UPDATE outpost.messages SET run_at = now() + interval '1 day', tenant = 'h1' WHERE id = ANY($1)",
            &[&vec![queued_a.0, queued_b.0]],
        )
        .await
        .unwrap();
    let console = Console::start(&db, &[]).await;
    let mut admin = console.signed_in(ADMIN).await;
    admin.get("/messages?status=failed").await;
    let (status, _, body) = admin
        .post(
            "/messages/bulk",
            &[("status", "failed"), ("action", "retry")],
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        body.contains("3 message(s) match") && body.contains("<strong>3</strong>"),
        "{body}"
    );
    for id in &failed {
        assert_eq!(
            row(&client, *id).await.0,
            "failed",
            "nothing happens before the confirmation"
        );
    }
    let (_, _, body) = admin
        .post(
            "/messages/bulk/confirm",
            &[("status", "failed"), ("action", "retry")],
        )
        .await;
    assert!(body.contains("3 message(s) queued again"), "{body}");
    for id in &failed {
        assert_eq!(row(&client, *id).await.0, "queued");
    }
    let (_, _, body) = admin
        .post("/messages/bulk", &[("tenant", "h1"), ("action", "cancel")])
        .await;
    assert!(body.contains("2 message(s) match"), "{body}");
    let (_, _, body) = admin
        .post(
            "/messages/bulk/confirm",
            &[("tenant", "h1"), ("action", "cancel")],
        )
        .await;
    assert!(body.contains("2 message(s) cancelled"), "{body}");
    assert_eq!(row(&client, queued_a).await.0, "cancelled");
    let (_, _, audit) = admin.get("/audit-log").await;
    assert!(audit.contains("messages.bulk_retry") && audit.contains("messages.bulk_cancel"));
    // A bad filter is a clear error, not a query.
    let (status, _, body) = admin.get("/messages?status=lost&id=abc").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(body.contains("unknown status"), "{body}");
}

#[tokio::test]
async fn search_filters_and_keyset_pages() {
    let db = TestDb::new().await;
    let client = db.client().await;
    client
        .batch_execute(
            "INSERT INTO outpost.messages (kind, to_user, to_address, tenant, subject, body, idempotency_key, provider, created_at)
             SELECT 'email', 'u' || (i % 3), 'p' || i || '@example.com', 't' || (i % 2), 'S' || i, 'B', 'key-' || i, 'smtp',
                    timestamptz '2026-01-01' + i * interval '1 hour'
             FROM generate_series(1, 120) i",
        )
        .await
        .unwrap();
    let console = Console::start(&db, &[]).await;
    let mut admin = console.signed_in(ADMIN).await;
    let count = |body: &str| body.matches("<tr>\n    <td><a href=\"/messages/").count();
    let (_, _, first) = admin.get("/messages").await;
    assert_eq!(count(&first), 50);
    let next = first
        .split("before=")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap()
        .to_owned();
    let (_, _, second) = admin.get(&format!("/messages?before={next}")).await;
    assert_eq!(count(&second), 50);
    let (_, _, body) = admin.get("/messages?key=key-7").await;
    assert_eq!(count(&body), 1);
    assert!(body.contains("p7@example.com"));
    let (_, _, body) = admin.get("/messages?user=u1&tenant=t0").await;
    assert_eq!(count(&body), 20, "i % 3 = 1 and i % 2 = 0: 20 of 120");
    let (_, _, body) = admin.get("/messages?from=2026-01-02&to=2026-01-02").await;
    assert_eq!(count(&body), 24, "one day of hourly messages");
    let (_, _, body) = admin
        .get("/messages?provider=smtp&kind=email&status=queued")
        .await;
    assert_eq!(count(&body), 50);
    let (_, _, body) = admin.get("/messages?provider=sendgrid").await;
    assert_eq!(count(&body), 0);
}

const SMTP_SECRET: &str = "smtp-Secret-Value-123";
const PUSH_SECRET: &str = "push-Secret-Value-456";
const CONFIG_SECRET: &str = "config-Secret-Value-789";

#[tokio::test]
async fn secrets_are_write_only_and_never_in_any_response() {
    let db = TestDb::new().await;
    let console = Console::start(
        &db,
        &[
            ("OUTPOST__PUSH__APP_KEY", "client-app-key"),
            ("OUTPOST__PUSH__MASTER_SECRET", CONFIG_SECRET),
        ],
    )
    .await;
    let mut admin = console.signed_in(ADMIN).await;
    admin.get("/smtp-servers/new").await;
    let (status, _, body) = admin
        .post(
            "/smtp-servers",
            &[
                ("name", "relay-eu"),
                ("host", "smtp.example.com"),
                ("port", "587"),
                ("username", "noreply"),
                ("password", SMTP_SECRET),
                ("security", "starttls"),
                ("order", "10"),
                ("timeout_seconds", "30"),
                ("enabled", "1"),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::SEE_OTHER, "{body}");
    let (_, _, body) = admin
        .post(
            "/push-apps",
            &[
                ("name", "eguide-dublin"),
                ("app_key", "eguide-key"),
                ("master_secret", PUSH_SECRET),
                ("base_url", "https://go.airship.eu"),
                ("enabled", "1"),
            ],
        )
        .await;
    assert!(!body.contains(PUSH_SECRET));
    let client = db.client().await;
    let id: i64 = common::scalar(
        &client,
        "SELECT id FROM outpost.smtp_servers WHERE name = 'relay-eu'",
        &[],
    )
    .await;
    // Editing without typing a password keeps it while the destination
    // stays (changing it clears the password: tests/it/console_secrets.rs).
    let (_, _, form) = admin.get(&format!("/smtp-servers/{id}")).await;
    assert!(form.contains("set; type a new one to replace it"));
    admin
        .post(
            &format!("/smtp-servers/{id}"),
            &[
                ("name", "relay-eu"),
                ("host", "smtp2.example.com"),
                ("port", "587"),
                ("username", "noreply"),
                ("password", SMTP_SECRET),
                ("security", "starttls"),
                ("order", "10"),
                ("timeout_seconds", "30"),
            ],
        )
        .await;
    admin
        .post(
            &format!("/smtp-servers/{id}"),
            &[
                ("name", "relay-eu"),
                ("host", "smtp2.example.com"),
                ("port", "587"),
                ("username", "noreply"),
                ("password", ""),
                ("security", "starttls"),
                ("order", "20"),
                ("timeout_seconds", "45"),
            ],
        )
        .await;
    let (host, password): (String, String) = {
        let r = client
            .query_one(
                "SELECT host, password FROM outpost.smtp_servers WHERE id = $1",
                &[&id],
            )
            .await
            .unwrap();
        (r.get(0), r.get(1))
    };
    assert_eq!(
        (host.as_str(), password.as_str()),
        ("smtp2.example.com", SMTP_SECRET)
    );
    admin
        .post(
            "/push-apps/eguide-dublin",
            &[
                ("app_key", "eguide-key-2"),
                ("master_secret", ""),
                ("base_url", "https://go.airship.eu"),
            ],
        )
        .await;
    let secret: String = common::scalar(
        &client,
        "SELECT master_secret FROM outpost.push_apps WHERE name = 'eguide-dublin'",
        &[],
    )
    .await;
    assert_eq!(secret, PUSH_SECRET);
    for page in [
        "/".to_owned(),
        "/smtp-servers".into(),
        format!("/smtp-servers/{id}"),
        "/push-apps".into(),
        "/push-apps/eguide-dublin".into(),
        "/audit-log".into(),
        "/messaging".into(),
    ] {
        let (status, headers, body) = admin.get(&page).await;
        assert_eq!(status, StatusCode::OK, "{page}");
        for secret in [SMTP_SECRET, PUSH_SECRET, CONFIG_SECRET] {
            assert!(!body.contains(secret), "{page} shows a secret");
            assert!(!format!("{headers:?}").contains(secret));
        }
    }
    let (_, _, audit) = admin.get("/audit-log").await;
    assert!(audit.contains("smtp_server.add") && audit.contains("smtp_server.edit"));
    assert!(
        audit.contains("&quot;password&quot;: &quot;set&quot;"),
        "{audit}"
    );
    let (_, _, list) = admin.get("/push-apps").await;
    assert!(list.contains("client-app-key") && list.contains("eguide-key-2"));
}

#[tokio::test]
async fn smtp_servers_are_added_edited_reordered_tested_and_deleted() {
    let peer = common::smtp::SmtpPeer::start("starttls");
    let db = TestDb::new().await;
    let cert = peer.cert_path().display().to_string();
    let console = Console::start(&db, &[("OUTPOST__EMAIL__SMTP__CA_FILE", &cert)]).await;
    let mut admin = console.signed_in(ADMIN).await;
    admin.get("/smtp-servers").await;
    let port = peer.port.to_string();
    for (name, order, password) in [
        ("peer", "20", common::smtp::PASSWORD),
        ("backup", "10", "wrong-pass"),
    ] {
        let (status, _, body) = admin
            .post(
                "/smtp-servers",
                &[
                    ("name", name),
                    ("host", "localhost"),
                    ("port", &port),
                    ("username", common::smtp::USER),
                    ("password", password),
                    ("security", "starttls"),
                    ("order", order),
                    ("enabled", "1"),
                ],
            )
            .await;
        assert_eq!(status, StatusCode::SEE_OTHER, "{body}");
    }
    let client = db.client().await;
    let ids: Vec<(String, i64)> = client
        .query("SELECT name, id FROM outpost.smtp_servers", &[])
        .await
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    let id = |n: &str| ids.iter().find(|(name, _)| name == n).unwrap().1;
    // A duplicate name is a form error, not a 500.
    let (status, _, body) = admin
        .post(
            "/smtp-servers",
            &[
                ("name", "peer"),
                ("host", "h"),
                ("port", "25"),
                ("security", "none"),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(body.contains("another server has this name"));
    let (_, _, list) = admin.get("/smtp-servers").await;
    let backup_row = list.find(&format!("id=\"smtp-{}\"", id("backup"))).unwrap();
    let peer_row = list.find(&format!("id=\"smtp-{}\"", id("peer"))).unwrap();
    assert!(backup_row < peer_row, "lowest order first");
    // Reorder: peer up, so smtp_db would use it.
    admin
        .post(
            &format!("/smtp-servers/{}/move", id("peer")),
            &[("direction", "up")],
        )
        .await;
    let in_use: String = client
        .query_one(outpost::db::statements::SMTP_SERVER, &[])
        .await
        .unwrap()
        .get("name");
    assert_eq!(in_use, "peer");

    let (status, _, body) = admin
        .post(&format!("/smtp-servers/{}/test", id("peer")), &[])
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(
        body.contains("TLS and authentication as configured succeeded"),
        "{body}"
    );
    assert!(
        peer.received().is_empty(),
        "a connection test sends no mail"
    );
    let (status, _, body) = admin
        .post(&format!("/smtp-servers/{}/test", id("backup")), &[])
        .await;
    assert_eq!(status, StatusCode::BAD_GATEWAY);
    assert!(
        body.contains("Connection test of backup failed") && !body.contains("wrong-pass"),
        "{body}"
    );

    let (status, _, body) = admin
        .post(
            &format!("/smtp-servers/{}/send-test", id("peer")),
            &[("to", "ops@example.com")],
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let received = peer.received();
    assert_eq!(received.len(), 1);
    assert!(String::from_utf8_lossy(&received[0].raw).contains("Outpost test e-mail through peer"));

    admin
        .post(&format!("/smtp-servers/{}/disable", id("peer")), &[])
        .await;
    let enabled: bool = common::scalar(
        &client,
        "SELECT enabled FROM outpost.smtp_servers WHERE id = $1",
        &[&id("peer")],
    )
    .await;
    assert!(!enabled);
    admin
        .post(&format!("/smtp-servers/{}/enable", id("peer")), &[])
        .await;
    admin
        .post(&format!("/smtp-servers/{}/delete", id("backup")), &[])
        .await;
    let left: i64 = common::scalar(&client, "SELECT count(*) FROM outpost.smtp_servers", &[]).await;
    assert_eq!(left, 1);
    let (_, _, audit) = admin.get("/audit-log").await;
    for action in [
        "smtp_server.add",
        "smtp_server.move_up",
        "smtp_server.disable",
        "smtp_server.enable",
        "smtp_server.delete",
        "smtp_server.send_test",
    ] {
        assert!(
            audit.contains(action),
            "{action} missing from the audit log"
        );
    }
}

#[tokio::test]
async fn push_apps_and_a_test_push_show_airships_answer() {
    use wiremock::matchers::{body_partial_json, method, path};
    use wiremock::{Mock, MockServer, ResponseTemplate};
    let airship = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/api/push"))
        .and(body_partial_json(
            json!({"audience": {"android_channel": "good-channel"}}),
        ))
        .respond_with(ResponseTemplate::new(202).set_body_json(json!({
            "ok": true, "operation_id": "op-1234", "push_ids": ["push-5678"]
        })))
        .mount(&airship)
        .await;
    Mock::given(method("POST"))
        .and(path("/api/push"))
        .respond_with(ResponseTemplate::new(400).set_body_json(json!({
            "ok": false, "error": "Could not parse request body", "error_code": 40001,
            "details": {"error": "Invalid channel"}
        })))
        .mount(&airship)
        .await;
    let db = TestDb::new().await;
    let console = Console::start(&db, &[]).await;
    let mut admin = console.signed_in(ADMIN).await;
    admin.get("/push-apps/new").await;
    let (status, _, _) = admin
        .post(
            "/push-apps",
            &[
                ("name", "eguide-dublin"),
                ("app_key", "KEY"),
                ("master_secret", "SECRET"),
                ("base_url", &airship.uri()),
                ("enabled", "1"),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let (status, _, body) = admin
        .post(
            "/push-apps/test",
            &[
                ("app", "eguide-dublin"),
                ("channel", "good-channel"),
                ("device_type", "android"),
                ("message", "Hello device"),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(
        body.contains("push id push-5678") && body.contains("op-1234"),
        "{body}"
    );
    let sent: serde_json::Value =
        serde_json::from_slice(&airship.received_requests().await.unwrap()[0].body).unwrap();
    assert_eq!(sent["notification"]["alert"], "Hello device");
    let (status, _, body) = admin
        .post(
            "/push-apps/test",
            &[("app", "eguide-dublin"), ("channel", "bad-channel")],
        )
        .await;
    assert_eq!(status, StatusCode::BAD_GATEWAY);
    assert!(
        body.contains("Airship 400: Could not parse request body (Invalid channel)"),
        "{body}"
    );
    let (status, _, _) = admin
        .post(
            "/push-apps/test",
            &[("app", "eguide-dublin"), ("channel", "")],
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    admin.post("/push-apps/eguide-dublin/disable", &[]).await;
    let enabled: bool = common::scalar(
        &db.client().await,
        "SELECT enabled FROM outpost.push_apps WHERE name = 'eguide-dublin'",
        &[],
    )
    .await;
    assert!(!enabled);
    let (_, _, audit) = admin.get("/audit-log").await;
    assert!(
        audit.contains("push_app.add")
            && audit.contains("push_app.test_push")
            && audit.contains("push_app.disable")
    );
}

#[tokio::test]
async fn messaging_suppressions_schedules_and_inbound() {
    let db = TestDb::new().await;
    let client = db.client().await;
    client
        .batch_execute(
            "INSERT INTO outpost.schedules (name, cron, message) VALUES
               ('digest', '0 9 * * *', '{\"kind\": \"email\", \"to_address\": \"d@example.com\", \"subject\": \"Digest\", \"body\": \"B\"}');
             UPDATE outpost.schedules SET last_error = 'earlier trouble';
             INSERT INTO outpost.inbound_emails (dedupe_key, mode, from_address, to_addresses, subject, text_body, html_body, spf, dkim, spam_score)
             VALUES ('k1', 'parsed', 'sender@example.org', 'in@example.com', 'Hello in', 'The text', '<b>x</b><script>alert(1)</script>', 'pass', '{@example.org : pass}', 1.5);
             INSERT INTO outpost.inbound_attachments (inbound_email_id, filename, content_type, size, content)
             SELECT id, '../report \"x\".pdf', 'application/pdf', 4, '\\x25504446'::bytea FROM outpost.inbound_emails;",
        )
        .await
        .unwrap();
    let console = Console::start(&db, &[]).await;
    let mut admin = console.signed_in(ADMIN).await;

    admin.get("/messaging").await;
    admin
        .post("/messaging", &[("tenant", "hospital-1"), ("enabled", "1")])
        .await;
    let (_, _, body) = admin.get("/messaging").await;
    assert!(body.contains("hospital-1"));
    let push: bool = common::scalar(
        &client,
        "SELECT push_on_message FROM outpost.messaging_configs WHERE tenant = 'hospital-1'",
        &[],
    )
    .await;
    assert!(!push);
    admin.post("/messaging/hospital-1/delete", &[]).await;
    assert!(
        !admin
            .get("/messaging")
            .await
            .2
            .contains("<td>hospital-1</td>")
    );

    admin
        .post(
            "/suppressions",
            &[
                ("family", "email"),
                ("address", "Ann <Ann@Example.com>"),
                ("reason", "asked us to stop"),
            ],
        )
        .await;
    let (_, _, body) = admin.get("/suppressions?family=email&address=ann").await;
    assert!(body.contains("ann@example.com") && body.contains("asked us to stop"));
    let (_, _, body) = admin.get("/suppressions?address=bob").await;
    assert!(!body.contains("ann@example.com"));
    let (status, _, _) = admin
        .post(
            "/suppressions/remove",
            &[
                ("family", "email"),
                ("address", "ann@example.com"),
                ("reason", ""),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "a removal needs a reason");
    admin
        .post(
            "/suppressions/remove",
            &[
                ("family", "email"),
                ("address", "ann@example.com"),
                ("reason", "she asked again"),
            ],
        )
        .await;
    let n: i64 = common::scalar(&client, "SELECT count(*) FROM outpost.suppressions", &[]).await;
    assert_eq!(n, 0);

    let (_, _, body) = admin.get("/schedules").await;
    assert!(
        body.contains("digest") && body.contains("earlier trouble") && body.contains("UTC ("),
        "{body}"
    );
    let (_, _, body) = admin.post("/schedules/digest/fire", &[]).await;
    assert!(body.contains("Schedule digest fired: message"), "{body}");
    let fired: i64 = common::scalar(
        &client,
        "SELECT count(*) FROM outpost.messages WHERE subject = 'Digest'",
        &[],
    )
    .await;
    assert_eq!(fired, 1);
    admin.post("/schedules/digest/disable", &[]).await;
    let (_, _, body) = admin.get("/schedules").await;
    assert!(body.contains("— (disabled)"));
    admin.post("/schedules/digest/enable", &[]).await;

    let (_, _, body) = admin.get("/inbound").await;
    assert!(body.contains("Hello in") && body.contains("pass") && body.contains("1.5"));
    let inbound_id: i64 =
        common::scalar(&client, "SELECT id FROM outpost.inbound_emails", &[]).await;
    let (_, _, body) = admin.get(&format!("/inbound/{inbound_id}")).await;
    assert!(
        body.contains("The text") && !body.contains("<script>alert"),
        "HTML is shown as source only"
    );
    let attachment: i64 =
        common::scalar(&client, "SELECT id FROM outpost.inbound_attachments", &[]).await;
    let (status, headers, body) = admin
        .get(&format!("/inbound/{inbound_id}/attachments/{attachment}"))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body, "%PDF");
    assert_eq!(
        headers["content-disposition"],
        "attachment; filename=\".._report__x_.pdf\""
    );
    assert_eq!(headers["content-type"], "application/octet-stream");
    let (_, _, audit) = admin.get("/audit-log").await;
    for action in [
        "messaging.add",
        "messaging.remove",
        "suppression.add",
        "suppression.remove",
        "she asked again",
        "schedule.fire",
        "schedule.disable",
    ] {
        assert!(
            audit.contains(action),
            "{action} missing from the audit log"
        );
    }
    let (_, _, filtered) = admin.get("/audit-log?actor=nobody").await;
    assert!(filtered.contains("No change has been made"));
}

#[tokio::test]
async fn a_message_page_shows_preview_timeline_events_and_chat() {
    let db = TestDb::new().await;
    let client = db.client().await;
    client
        .batch_execute(
            "INSERT INTO outpost.recipients (user_id, email, tenant) VALUES ('42', 'ann@example.com', 'h1');
             INSERT INTO outpost.messaging_configs (tenant) VALUES ('h1');",
        )
        .await
        .unwrap();
    let id: i64 = common::scalar(&client, "SELECT outpost.send_mail_template('welcome', to_user => '42', context => '{\"name\": \"Ann\", \"site\": \"MEG\", \"messages\": 3, \"url\": \"https://example.com/login\"}')", &[]).await;
    let config = db.config(&[("OUTPOST__CHAT__BACKEND", "inapp")]);
    let (channels, _) = db.channels(&config);
    db.dispatcher(&config, channels, "w1")
        .drain()
        .await
        .unwrap();
    client
        .execute(
            "INSERT INTO outpost.events (message_id, provider, event, payload) VALUES ($1, 'sendgrid', 'delivered', '{\"response\": \"250 OK\"}')",
            &[&id],
        )
        .await
        .unwrap();
    let console = Console::start(&db, &[]).await;
    let mut admin = console.signed_in(ADMIN).await;
    let (status, _, body) = admin.get(&format!("/messages/{id}")).await;
    assert_eq!(status, StatusCode::OK);
    for expected in [
        "enqueued",
        "attempt 1: sent",
        "provider event: delivered",
        "250 OK",
        "chat message",
        "ms</dd>",
        "sandbox",
    ] {
        assert!(body.contains(expected), "{expected} missing: {body}");
    }
    let enqueue = body.find("enqueued").unwrap();
    let attempt = body.find("attempt 1: sent").unwrap();
    let event = body.find("provider event: delivered").unwrap();
    assert!(
        enqueue < attempt && attempt < event,
        "one timeline, in time order"
    );
    let (status, headers, preview) = admin.get(&format!("/messages/{id}/preview")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(preview.contains("Ann"), "{preview}");
    let csp = headers["content-security-policy"].to_str().unwrap();
    assert!(
        csp.contains("default-src 'none'")
            && csp.contains("sandbox")
            && csp.contains("img-src data:"),
        "{csp}"
    );
    assert_eq!(admin.get("/messages/999999").await.0, StatusCode::NOT_FOUND);
    assert_eq!(admin.get("/messages/abc").await.0, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn the_overview_counts_charts_and_daemons() {
    let db = TestDb::new().await;
    let client = db.client().await;
    let id = failed_email(&db, "x@example.com").await;
    db.email(&client, "y@example.com").await;
    let config = db.config(&[]);
    let (channels, _) = db.channels(&config);
    let dispatcher = db.dispatcher(&config, channels, "worker-on-host-a");
    outpost::presence::beat(&dispatcher).await.unwrap();
    let console = Console::start(&db, &[]).await;
    let mut admin = console.signed_in(ADMIN).await;
    let (status, _, body) = admin.get("/").await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        body.contains("/messages?kind=email&amp;status=failed\">1</a>"),
        "{body}"
    );
    assert!(body.contains("/messages?kind=email&amp;status=queued\">1</a>"));
    assert!(
        body.contains("<svg") && body.contains("class=\"failed\""),
        "a failed attempt is drawn"
    );
    assert!(body.contains("worker-on-host-a") && !body.contains("silent"));
    assert!(!body.contains("— (none waiting)"), "one due message waits");
    let _ = id;
}

#[tokio::test]
async fn the_daemon_serves_the_console_on_its_own_listener_and_beats() {
    let db = TestDb::new().await;
    let (console_port, http_port) = (common::free_port(), common::free_port());
    let console_listen = format!("127.0.0.1:{console_port}");
    let http_listen = format!("127.0.0.1:{http_port}");
    let config = db.config(&[
        ("OUTPOST__CONSOLE__ENABLED", "true"),
        ("OUTPOST__CONSOLE__LISTEN", &console_listen),
        ("OUTPOST__HTTP__LISTEN", &http_listen),
        ("OUTPOST__HOUSEKEEPING__ENABLED", "false"),
    ]);
    let (channels, _) = db.channels(&config);
    let stop = tokio_util::sync::CancellationToken::new();
    let daemon = tokio::spawn({
        let stop = stop.clone();
        let config = config.clone();
        async move { outpost::daemon::run(&config, channels, stop).await }
    });
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let mut login = None;
    for _ in 0..100 {
        if let Ok(r) = http
            .get(format!("http://{console_listen}/login"))
            .send()
            .await
        {
            login = Some(r.status());
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(login, Some(StatusCode::OK));
    let on_webhooks = http
        .get(format!("http://{http_listen}/login"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        on_webhooks.status(),
        StatusCode::NOT_FOUND,
        "never on the webhook port"
    );
    let client = db.client().await;
    let mut beats = 0;
    for _ in 0..100 {
        beats = client
            .query_one("SELECT count(*) FROM outpost.daemons", &[])
            .await
            .unwrap()
            .get::<_, i64>(0);
        if beats > 0 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(beats, 1);
    stop.cancel();
    daemon.await.unwrap().unwrap();
    let left: i64 = common::scalar(&client, "SELECT count(*) FROM outpost.daemons", &[]).await;
    assert_eq!(left, 0, "a clean stop removes the heartbeat");
    // Off by default.
    assert!(!db.config(&[]).console.enabled);
}

#[tokio::test]
async fn a_trusted_proxy_header_signs_in_only_when_configured() {
    let db = TestDb::new().await;
    let off = Console::start(&db, &[]).await;
    let mut agent = off.agent();
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let r = http
        .get(format!("{}/login", off.base))
        .header("x-forwarded-user", "admin")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK, "ignored when not configured");
    assert!(r.headers().get("set-cookie").is_none());
    let on = Console::start(
        &db,
        &[("OUTPOST__CONSOLE__PROXY_USER_HEADER", "X-Forwarded-User")],
    )
    .await;
    let r = http
        .get(format!("{}/login?next=/audit-log", on.base))
        .header("x-forwarded-user", "viewer")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(r.headers()["location"], "/audit-log");
    let cookie = r.headers()["set-cookie"].to_str().unwrap();
    agent.base = on.base.clone();
    agent.cookie = Some(
        cookie
            .split(';')
            .next()
            .unwrap()
            .split('=')
            .nth(1)
            .unwrap()
            .to_owned(),
    );
    let (status, _, body) = agent.get("/").await;
    assert_eq!(status, StatusCode::OK);
    assert!(body.contains("viewer (viewer)"));
    let r = http
        .get(format!("{}/login", on.base))
        .header("x-forwarded-user", "nobody")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK, "an unknown user gets the form");
}

fn outpost_cmd() -> std::process::Command {
    std::process::Command::new(env!("CARGO_BIN_EXE_outpost"))
}

#[tokio::test]
async fn console_users_are_managed_from_the_command_line() {
    use std::io::Write;
    let db = TestDb::new().await;
    let mut child = outpost_cmd()
        .args(["console", "user", "add", "ops.ann", "--role", "viewer"])
        .env("DATABASE_URL", &db.url)
        .stdin(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"a long password\n")
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!String::from_utf8_lossy(&out.stderr).contains("a long password"));
    let client = db.client().await;
    let r = client
        .query_one(
            "SELECT role, password_hash FROM outpost.console_users WHERE name = 'ops.ann'",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(r.get::<_, String>(0), "viewer");
    assert!(r.get::<_, String>(1).starts_with("$argon2id$"));
    let console = Console::start(&db, &[]).await;
    let mut ann = console.signed_in(("ops.ann", "a long password")).await;
    assert_eq!(ann.get("/").await.0, StatusCode::OK);
    let out = outpost_cmd()
        .args(["console", "user", "remove", "ops.ann"])
        .env("DATABASE_URL", &db.url)
        .output()
        .unwrap();
    assert!(out.status.success());
    assert_eq!(
        ann.get("/").await.0,
        StatusCode::SEE_OTHER,
        "removal ends the session"
    );
    let out = outpost_cmd()
        .args(["console", "user", "add", "x", "--role", "root"])
        .env("DATABASE_URL", &db.url)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let out = outpost_cmd()
        .args(["console", "user", "remove", "nobody"])
        .env("DATABASE_URL", &db.url)
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&out.stderr).contains("no console user named"));
}

#[tokio::test]
async fn outpost_dev_prints_the_console_url_and_a_one_time_login() {
    use std::io::{BufRead, BufReader};
    let db = TestDb::new().await;
    let port = common::free_port();
    let mut child = outpost_cmd()
        .arg("dev")
        .env("DATABASE_URL", &db.url)
        .env("OUTPOST__CONSOLE__LISTEN", format!("127.0.0.1:{port}"))
        .env("OUTPOST__HTTP__LISTEN", "127.0.0.1:0")
        .env("OUTPOST__OPS__LISTEN", "127.0.0.1:0")
        .env("OUTPOST__LOG__LEVEL", "error")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let (found, lines) = std::sync::mpsc::channel();
    // Keep reading (and printing) so the daemon's stderr stays open.
    std::thread::spawn(move || {
        for l in BufReader::new(stderr).lines().map_while(Result::ok) {
            eprintln!("dev: {l}");
            if l.contains("operator console") {
                let _ = found.send(l);
            }
        }
    });
    let line =
        tokio::task::spawn_blocking(move || lines.recv_timeout(std::time::Duration::from_secs(60)))
            .await
            .unwrap()
            .expect("dev prints the console line");
    let url = format!("http://127.0.0.1:{port}/");
    assert!(line.contains(&url), "{line}");
    let password = line
        .split("password ")
        .nth(1)
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_owned();
    let mut agent = Agent::new(url.trim_end_matches('/'));
    let mut status = StatusCode::INTERNAL_SERVER_ERROR;
    for _ in 0..100 {
        if let Ok(r) = reqwest::get(format!("{url}login")).await {
            status = r.status();
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(status, StatusCode::OK);
    assert_eq!(agent.login("dev", &password).await.0, StatusCode::SEE_OTHER);
    assert_eq!(agent.get("/").await.0, StatusCode::OK);
    let _ = child.kill();
    let _ = child.wait();
}

/// Where the browser test leaves its screenshots.
/// Recent history for the overview's charts: attempts spread over the last day.
async fn seed_history(client: &tokio_postgres::Client) {
    client
        .batch_execute(
            "WITH m AS (
                 INSERT INTO outpost.messages (kind, to_address, subject, body, status, attempts, created_at, sent_at, finished_at)
                 SELECT (ARRAY['email','sms','push','chat'])[1 + i % 4], 'history' || i || '@example.com', 'History', 'B',
                        CASE WHEN i % 11 = 0 THEN 'failed' WHEN i % 3 = 0 THEN 'delivered' ELSE 'sent' END, 1,
                        now() - (i * interval '4 minutes'), now() - (i * interval '4 minutes'), now() - (i * interval '4 minutes')
                 FROM generate_series(1, 340) i
                 RETURNING id, status, created_at)
             INSERT INTO outpost.attempts (message_id, attempt, worker, provider, started_at, finished_at, outcome, error)
             SELECT id, 1, 'seed', 'console', created_at, created_at + interval '80 ms',
                    CASE WHEN status = 'failed' THEN 'failed' WHEN id % 7 = 0 THEN 'retry' ELSE 'sent' END,
                    CASE WHEN status = 'failed' THEN 'SMTP server relay:587 refused: 550 mailbox unavailable' END
             FROM m;",
        )
        .await
        .unwrap();
}

#[tokio::test]
async fn a_real_browser_logs_in_retries_tests_smtp_and_pushes() {
    use common::browser::Browser;
    use fantoccini::Locator;
    use wiremock::matchers::{method, path};
    use wiremock::{Mock, MockServer, ResponseTemplate};
    let b = match Browser::start().await {
        Ok(b) => b,
        Err(why) => {
            println!("SKIPPED: a_real_browser_logs_in_retries_tests_smtp_and_pushes: {why}");
            return;
        }
    };
    let peer = common::smtp::SmtpPeer::start("starttls");
    let airship = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/api/push"))
        .respond_with(ResponseTemplate::new(202).set_body_json(json!({
            "ok": true, "operation_id": "op-browser", "push_ids": ["push-browser-1"]
        })))
        .mount(&airship)
        .await;
    let db = TestDb::new().await;
    let client = db.client().await;
    seed_history(&client).await;
    let id = failed_email(&db, "dr.byrne@example.com").await;
    let cert = peer.cert_path().display().to_string();
    let console = Console::start(&db, &[("OUTPOST__EMAIL__SMTP__CA_FILE", &cert)]).await;
    let config = db.config(&[]);
    let (channels, _) = db.channels(&config);
    let dispatcher = db.dispatcher(&config, channels, "vm-1:4242:a1f3");
    outpost::presence::beat(&dispatcher).await.unwrap();
    let base = console.base.clone();

    // Log in.
    b.goto(&format!("{base}/")).await;
    assert!(b.path().await.starts_with("/login"));
    b.shot("login").await;
    b.fill("name", ADMIN.0).await;
    b.fill("password", ADMIN.1).await;
    b.click(Locator::Css("form button[type=submit]")).await;
    b.wait_for(Locator::Id("counts")).await;
    assert_eq!(b.path().await, "/");
    assert!(b.source().await.contains("vm-1:4242:a1f3"));
    b.shot("overview").await;

    // Find the failed message and retry it.
    b.goto(&format!("{base}/messages")).await;
    b.select("f-status", "failed").await;
    b.fill("f-address", "dr.byrne@example.com").await;
    b.click(Locator::Id("search")).await;
    // Wait for the filtered page (the unfiltered one lists the message too).
    b.wait_for_query("status=failed").await;
    let link = id.0.to_string();
    b.wait_for(Locator::LinkText(&link)).await;
    b.shot("messages").await;
    b.click(Locator::LinkText(&link)).await;
    b.click(Locator::Id("retry")).await;
    let result = b.text("result").await;
    assert!(result.contains("queued again"), "{result}");
    assert_eq!(row(&client, id).await.0, "queued");
    dispatcher.drain().await.unwrap();
    assert_eq!(row(&client, id).await.0, "sent");
    b.goto(&format!("{base}/messages/{}", id.0)).await;
    assert!(b.source().await.contains("attempt 2: sent"));
    b.shot("message").await;

    // Add an SMTP server and test it against the aiosmtpd peer.
    b.goto(&format!("{base}/smtp-servers/new")).await;
    for (field, value) in [
        ("name", "relay-test"),
        ("host", "localhost"),
        ("username", common::smtp::USER),
        ("password", common::smtp::PASSWORD),
        ("port", &peer.port.to_string()),
    ] {
        b.fill(field, value).await;
    }
    b.click(Locator::Id("save")).await;
    b.wait_for(Locator::Id("add-smtp")).await;
    b.shot("smtp-servers").await;
    b.click(Locator::Css("button.test")).await;
    let result = b.text("result").await;
    assert!(
        result.contains("TLS and authentication as configured succeeded"),
        "{result}"
    );
    b.shot("smtp-test").await;

    // Add an eGuide app and send a test push to the Airship fake.
    b.goto(&format!("{base}/push-apps/new")).await;
    for (field, value) in [
        ("name", "eguide-dublin"),
        ("app_key", "KEY"),
        ("master_secret", "SECRET"),
        ("base_url", &airship.uri()),
    ] {
        b.fill(field, value).await;
    }
    b.click(Locator::Css("form.narrow button[type=submit]"))
        .await;
    b.wait_for(Locator::Id("send-push")).await;
    b.shot("push-apps").await;
    b.select("app", "eguide-dublin").await;
    b.fill("channel", "9c36e8c7-5a73-47c0-9716-99fd3d4197d5")
        .await;
    b.click(Locator::Id("send-push")).await;
    let result = b.text("result").await;
    assert!(result.contains("push-browser-1"), "{result}");
    let sent: serde_json::Value =
        serde_json::from_slice(&airship.received_requests().await.unwrap()[0].body).unwrap();
    assert_eq!(
        sent["audience"]["channel"],
        "9c36e8c7-5a73-47c0-9716-99fd3d4197d5"
    );

    for page in [
        "suppressions",
        "schedules",
        "inbound",
        "audit-log",
        "messaging",
    ] {
        b.goto(&format!("{base}/{page}")).await;
        b.shot(page).await;
    }
    // A phone-sized window still shows the message page.
    b.client.set_window_size(390, 844).await.unwrap();
    b.goto(&format!("{base}/messages/{}", id.0)).await;
    b.shot("message-phone").await;
    b.close().await;
}

/// Page times at a million messages (BENCHMARKS.md). Run with
/// `cargo test --release --test console -- --ignored console_pages_at_scale`;
/// `OUTPOST_CONSOLE_BENCH_ROWS` changes the size.
#[tokio::test]
#[ignore]
async fn console_pages_at_scale() {
    let rows: i64 = std::env::var("OUTPOST_CONSOLE_BENCH_ROWS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000);
    let db = TestDb::new().await;
    let client = db.client().await;
    let started = std::time::Instant::now();
    // 30 days of traffic (the default retention), 3 % failed, 0.5 % queued,
    // one attempt per sent or failed message, with tenants and users.
    client
        .batch_execute(&format!(
            "ALTER TABLE outpost.messages SET (autovacuum_enabled = false);
             INSERT INTO outpost.messages (kind, to_user, to_address, tenant, subject, body, status, attempts,
                                           created_at, run_at, sent_at, finished_at, idempotency_key)
             SELECT (ARRAY['email','email','email','sms','push','chat'])[1 + i % 6],
                    'user' || (i % 50000), 'person' || i || '@example.com', 'tenant' || (i % 40),
                    'Subject ' || i, 'Body',
                    CASE WHEN i % 200 = 0 THEN 'queued' WHEN i % 33 = 0 THEN 'failed'
                         WHEN i % 3 = 0 THEN 'delivered' ELSE 'sent' END,
                    CASE WHEN i % 200 = 0 THEN 0 ELSE 1 END,
                    now() - ({rows} - i) * (interval '30 days' / {rows}),
                    now() - ({rows} - i) * (interval '30 days' / {rows}),
                    now() - ({rows} - i) * (interval '30 days' / {rows}),
                    now() - ({rows} - i) * (interval '30 days' / {rows}),
                    'bench-' || i
             FROM generate_series(1, {rows}) i;
             INSERT INTO outpost.attempts (message_id, attempt, worker, provider, started_at, finished_at, outcome, error)
             SELECT id, 1, 'bench', 'smtp', created_at, created_at + interval '40 ms',
                    CASE status WHEN 'failed' THEN 'failed' ELSE 'sent' END,
                    CASE status WHEN 'failed' THEN '550 mailbox unavailable' END
             FROM outpost.messages WHERE status <> 'queued';
             ALTER TABLE outpost.messages SET (autovacuum_enabled = true);"
        ))
        .await
        .unwrap();
    for table in ["messages", "attempts"] {
        client
            .batch_execute(&format!("VACUUM ANALYZE outpost.{table}"))
            .await
            .unwrap();
    }
    let load = started.elapsed();
    let console = Console::start(&db, &[]).await;
    let mut admin = console.signed_in(ADMIN).await;
    let failed_id: i64 = common::scalar(
        &client,
        "SELECT max(id) FROM outpost.messages WHERE status = 'failed'",
        &[],
    )
    .await;
    let pages = [
        "/".to_owned(),
        "/messages".into(),
        "/messages?status=failed".into(),
        "/messages?status=failed&before=500000".into(),
        "/messages?tenant=tenant7&kind=sms".into(),
        "/messages?address=person777777%40example.com".into(),
        "/messages?user=user4242".into(),
        format!("/messages/{failed_id}"),
    ];
    let mut report = serde_json::Map::new();
    for page in &pages {
        let mut times = Vec::new();
        for _ in 0..25 {
            let t = std::time::Instant::now();
            let (status, _, _) = admin.get(page).await;
            times.push(t.elapsed().as_secs_f64() * 1000.0);
            assert_eq!(status, StatusCode::OK, "{page}");
        }
        times.sort_by(f64::total_cmp);
        report.insert(
            page.clone(),
            json!({ "median_ms": (times[12] * 10.0).round() / 10.0, "max_ms": (times[24] * 10.0).round() / 10.0 }),
        );
    }
    println!(
        "{}",
        json!({ "messages": rows, "load_seconds": load.as_secs(), "pages": report })
    );
}
