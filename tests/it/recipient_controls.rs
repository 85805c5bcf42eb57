//! Recipients in control (issue 18): the helpers' category argument, the
//! preferences that stop a category, one-click unsubscribe over real SMTP and
//! HTTP, quiet hours end to end, digests sent once by two dispatchers.

use crate::common;

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use common::smtp::{PASSWORD, SmtpPeer};
use common::{TestDb, row};
use mailparse::MailHeaderMap;
use outpost::enqueue::{NewMessage, enqueue};
use outpost::http::{AppState, router, serve};
use outpost::message::{Kind, MessageId};
use serde_json::json;
use tokio_util::sync::CancellationToken;

const SECRET: &str = "unsubscribe-secret-of-at-least-32-chars";

/// Templates for a categorised newsletter and its digest, with the link.
fn templates() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let files = [
        ("news.subject.txt", "News for {{ name }}"),
        (
            "news.txt",
            "Hello {{ name }}.\n{% if unsubscribe_url %}Unsubscribe: {{ unsubscribe_url }}{% endif %}\n",
        ),
        ("news.html", "<p>Hello {{ name }}.</p>"),
        ("news.digest.subject.txt", "{{ count }} news"),
        (
            "news.digest.txt",
            "{% for item in items %}* {{ item.context.name }}\n{% endfor %}",
        ),
        ("news.digest.html", "<p>{{ count }} news</p>"),
    ];
    for (name, text) in files {
        std::fs::write(dir.path().join(name), text).unwrap();
    }
    dir
}

async fn news(client: &tokio_postgres::Client, category: Option<&str>, name: &str) -> MessageId {
    let mut m = NewMessage::new(Kind::Email);
    m.to_user = Some("42".into());
    m.template = Some("news".into());
    m.context = json!({ "name": name });
    m.category = category.map(str::to_owned);
    enqueue(client, &m).await.unwrap()
}

/// The HTTP listener of `outpost run`, on a port chosen before the
/// configuration so `[unsubscribe] public_url` can name it.
async fn http_server(
    db: &TestDb,
    config: &outpost::config::Config,
    listener: tokio::net::TcpListener,
) -> CancellationToken {
    let pool = outpost::db::pool(&db.url, 4).unwrap();
    let metrics = Arc::new(outpost::metrics::Metrics::new());
    let state = AppState::new(pool, config, metrics, None);
    let app = router(state, config.http.request_timeout);
    let stop = CancellationToken::new();
    let limits = outpost::http::server::Limits::from(&config.http);
    tokio::spawn(serve(listener, app, limits, stop.clone()));
    stop
}

#[tokio::test]
async fn one_click_unsubscribe_over_smtp_and_http() {
    let peer = SmtpPeer::start("starttls");
    let db = TestDb::new().await;
    let dir = templates();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let public_url = format!("http://{}", listener.local_addr().unwrap());
    let mut env = peer.env(false, PASSWORD);
    env.extend([
        (
            "OUTPOST__UNSUBSCRIBE__PUBLIC_URL".into(),
            public_url.clone(),
        ),
        ("OUTPOST__UNSUBSCRIBE__SECRET".into(), SECRET.into()),
        (
            "OUTPOST__UNSUBSCRIBE__MAILTO".into(),
            "unsubscribe@meg.test".into(),
        ),
        (
            "OUTPOST__TEMPLATES__DIR".into(),
            dir.path().display().to_string(),
        ),
    ]);
    let config = db.config_env(env);
    let _stop = http_server(&db, &config, listener).await.drop_guard();
    let client = db.client().await;
    client
        .execute(
            "INSERT INTO outpost.recipients (user_id, email) VALUES ('42', 'ann@example.com')",
            &[],
        )
        .await
        .unwrap();
    let categorised = news(&client, Some("newsletter"), "Ann").await;
    let transactional = news(&client, None, "Ann").await;
    let (channels, _) = db.channels(&config);
    let d = db.dispatcher(&config, channels, "unsubscribe-test");
    assert_eq!(d.run_once().await.unwrap(), 2);
    for id in [categorised, transactional] {
        assert_eq!(row(&client, id).await, ("sent".into(), 1, None));
    }

    let received = peer.received();
    assert_eq!(received.len(), 2);
    let mail_of = |id: MessageId| {
        received
            .iter()
            .map(|r| mailparse::parse_mail(&r.raw).unwrap())
            .find(|m| {
                m.headers
                    .get_first_value("Message-ID")
                    .is_some_and(|v| v.starts_with(&format!("<outpost.{id}@")))
            })
            .unwrap()
    };
    let mail = mail_of(categorised);
    let list = mail.headers.get_first_value("List-Unsubscribe").unwrap();
    assert_eq!(
        mail.headers
            .get_first_value("List-Unsubscribe-Post")
            .unwrap(),
        "List-Unsubscribe=One-Click"
    );
    let url = list
        .split(", ")
        .next()
        .and_then(|u| u.strip_prefix('<'))
        .and_then(|u| u.strip_suffix('>'))
        .unwrap()
        .to_owned();
    assert!(
        url.starts_with(&format!("{public_url}/unsubscribe/v1.")),
        "{list}"
    );
    let token = url.rsplit('/').next().unwrap();
    assert!(
        list.ends_with(&format!(
            "<mailto:unsubscribe@meg.test?subject=unsubscribe%20{token}>"
        )),
        "{list}"
    );
    // The template got the same link for a visible one.
    let text = mail.subparts[0].get_body().unwrap();
    assert!(text.contains(&format!("Unsubscribe: {url}")), "{text}");
    let plain = mail_of(transactional);
    assert!(plain.headers.get_first_value("List-Unsubscribe").is_none());
    assert!(
        plain
            .headers
            .get_first_value("List-Unsubscribe-Post")
            .is_none()
    );

    let preferences = || async {
        db.client()
            .await
            .query(
                "SELECT category, kind, enabled, source FROM outpost.preferences_for('42')",
                &[],
            )
            .await
            .unwrap()
            .iter()
            .map(|r| {
                let row: (String, Option<String>, bool, String) =
                    (r.get(0), r.get(1), r.get(2), r.get(3));
                row
            })
            .collect::<Vec<_>>()
    };
    let http = reqwest::Client::new();
    // GET shows a page with a button and changes nothing.
    let page = http.get(&url).send().await.unwrap();
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    assert!(
        html.contains("newsletter") && html.contains("<form method=\"post\""),
        "{html}"
    );
    assert!(preferences().await.is_empty());
    // A tampered token is refused and changes nothing.
    let mut tampered = url.clone().into_bytes();
    let last = tampered.len() - 3;
    tampered[last] = if tampered[last] == b'A' { b'B' } else { b'A' };
    let tampered = String::from_utf8(tampered).unwrap();
    for target in [
        tampered.as_str(),
        &format!("{public_url}/unsubscribe/v1.e30.AAAA"),
    ] {
        let refused = http
            .post(target)
            .header("content-type", "application/x-www-form-urlencoded")
            .body("List-Unsubscribe=One-Click")
            .send()
            .await
            .unwrap();
        assert_eq!(refused.status(), 400, "{target}");
    }
    // A POST without the one-click body is refused too.
    let no_body = http.post(&url).send().await.unwrap();
    assert_eq!(no_body.status(), 400);
    assert!(preferences().await.is_empty());

    // The one-click POST as a mailbox provider sends it.
    let done = http
        .post(&url)
        .header("content-type", "application/x-www-form-urlencoded")
        .body("List-Unsubscribe=One-Click")
        .send()
        .await
        .unwrap();
    assert_eq!(done.status(), 200);
    assert_eq!(
        preferences().await,
        [(
            "newsletter".into(),
            Some("email".into()),
            false,
            "unsubscribe".into()
        )]
    );
    let audit: i64 = client
        .query_one(
            "SELECT count(*) FROM outpost.console_audit \
             WHERE actor = 'role ' || current_user AND action = 'preference.set' \
               AND after->>'enabled' = 'false' AND after->>'source' = 'unsubscribe'",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(audit, 1);

    // The next message of that category ends suppressed, unsent; a
    // transactional one still goes.
    let next = news(&client, Some("newsletter"), "Ann").await;
    let still = news(&client, None, "Ann").await;
    assert_eq!(d.run_once().await.unwrap(), 2);
    let (status, _, error) = row(&client, next).await;
    assert_eq!(status, "suppressed");
    let error = error.unwrap();
    assert!(
        error.contains("preference: user 42 turned category newsletter off for email"),
        "{error}"
    );
    assert_eq!(row(&client, still).await.0, "sent");
    assert_eq!(peer.received().len(), 3);
}

#[tokio::test]
async fn a_preference_for_every_kind_and_one_for_a_kind() {
    let db = TestDb::new().await;
    let client = db.client().await;
    client
        .batch_execute(
            "INSERT INTO outpost.recipients (user_id, email, phone) VALUES ('42', 'a@example.com', '+353861234567');
             SELECT outpost.set_preference('42', 'promo', NULL, false);
             SELECT outpost.set_preference('42', 'promo', 'sms', true);",
        )
        .await
        .unwrap();
    let email: i64 = common::scalar(
        &client,
        "SELECT outpost.send_simple_mail('Sale', 'Now', to_user => '42', category => 'promo')",
        &[],
    )
    .await;
    let sms: i64 = common::scalar(
        &client,
        "SELECT outpost.send_sms('Sale', to_user => '42', category => 'promo')",
        &[],
    )
    .await;
    let config = db.config(&[]);
    let (channels, _) = db.channels(&config);
    let d = db.dispatcher(&config, channels, "preferences-test");
    assert_eq!(d.run_once().await.unwrap(), 2);
    let (status, attempts, error) = row(&client, MessageId(email)).await;
    assert_eq!((status.as_str(), attempts), ("suppressed", 1));
    assert!(error.unwrap().contains("off for every kind"));
    // The row for sms wins over the row for every kind.
    assert_eq!(row(&client, MessageId(sms)).await.0, "sent");
}

#[tokio::test]
async fn every_helper_takes_a_category_and_keeps_its_old_calls() {
    let db = TestDb::new().await;
    let client = db.client().await;
    client
        .batch_execute(
            "INSERT INTO outpost.recipients (user_id, tenant) VALUES ('42', 't1');
             INSERT INTO outpost.messaging_configs (tenant) VALUES ('t1');",
        )
        .await
        .unwrap();
    let calls = [
        "outpost.send_mail_template('welcome', '42', NULL, '{}', NULL, '{}', NULL, 0, NULL, NULL, NULL, NULL, NULL, 'c1')",
        "outpost.send_simple_mail('S', 'B', '[]', '42', category => 'c1')",
        "outpost.send_sms('B', '42', category => 'c1')",
        "outpost.make_call('B', '42', category => 'c1')",
        "outpost.send_user_push_message('42', 'B', category => 'c1')",
        "outpost.send_phone_sms('42', 'B', category => 'c1')",
        "outpost.send_phone_sms_predefined('42', category => 'c1')",
        "outpost.send_sms_to_number('+353861234567', 'en', 'B', category => 'c1')",
        "outpost.make_phone_call('42', category => 'c1')",
        "outpost.send_system_message_template('42', 'welcome', category => 'c1')",
        "outpost.enqueue('email', '42', subject => 'S', body => 'B', category => 'c1')",
    ];
    for call in calls {
        let id: i64 = client
            .query_one(&format!("SELECT {call}"), &[])
            .await
            .unwrap_or_else(|e| panic!("{call}: {e}"))
            .get(0);
        let category: Option<String> = common::scalar(
            &client,
            "SELECT category FROM outpost.messages WHERE id = $1",
            &[&id],
        )
        .await;
        assert_eq!(category.as_deref(), Some("c1"), "{call}");
    }
    // The push a system message queues carries the category.
    client
        .execute(
            "SELECT outpost.send_system_message('42', 'Hi', category => 'c1')",
            &[],
        )
        .await
        .unwrap();
    let pushed: Option<String> = common::scalar(
        &client,
        "SELECT category FROM outpost.messages WHERE kind = 'push' ORDER BY id DESC LIMIT 1",
        &[],
    )
    .await;
    assert_eq!(pushed.as_deref(), Some("c1"));
    // Old positional calls resolve (one function per name, no overloads),
    // and the helpers still run with the caller's rights except where they did not.
    let overloads: i64 = common::scalar(
        &client,
        "SELECT count(*) FROM (SELECT proname FROM pg_proc
              WHERE pronamespace = 'outpost'::regnamespace
                AND proname IN ('enqueue', 'send_mail_template', 'send_simple_mail', 'send_sms',
                                'make_call', 'send_user_push_message', 'send_phone_sms',
                                'send_phone_sms_predefined', 'send_sms_to_number',
                                'make_phone_call', 'send_system_message',
                                'send_system_message_template')
              GROUP BY proname HAVING count(*) > 1) x",
        &[],
    )
    .await;
    assert_eq!(overloads, 0);
    let definers: Vec<String> = client
        .query(
            "SELECT proname::text FROM pg_proc WHERE pronamespace = 'outpost'::regnamespace
               AND prosecdef AND proname LIKE 'send%' ORDER BY 1",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(
        definers,
        ["send_system_message", "send_system_message_template"]
    );
    client
        .query_one(
            "SELECT outpost.send_sms('B', '42', NULL, NULL, '+15550001', NULL, '{}', '{}', NULL, 0, 'k')",
            &[],
        )
        .await
        .unwrap();
}

/// A window of local time around now in `tz`, from an hour ago to an hour on.
fn window_around_now(tz: chrono_tz::Tz) -> String {
    let local = Utc::now().with_timezone(&tz);
    let fmt = |t: DateTime<chrono_tz::Tz>| t.format("%H:%M").to_string();
    format!(
        "{}-{}",
        fmt(local - chrono::Duration::hours(1)),
        fmt(local + chrono::Duration::hours(1))
    )
}

#[tokio::test]
async fn quiet_hours_defer_sms_in_the_recipients_zone_and_urgency_bypasses_them() {
    let db = TestDb::new().await;
    let client = db.client().await;
    let ny: chrono_tz::Tz = "America/New_York".parse().unwrap();
    let tokyo: chrono_tz::Tz = "Asia/Tokyo".parse().unwrap();
    let own = window_around_now(ny);
    let tenants = window_around_now(tokyo);
    client
        .execute(
            "INSERT INTO outpost.recipients (user_id, phone, timezone, quiet_hours, tenant)
             VALUES ('ny', '+12125550100', 'America/New_York', $1, NULL),
                    ('tokyo', '+81312345678', 'Asia/Tokyo', NULL, 'acme'),
                    ('free', '+353861234567', 'Asia/Tokyo', NULL, NULL)",
            &[&own],
        )
        .await
        .unwrap();
    let config = db.config(&[("OUTPOST__QUIET_HOURS__TENANTS__ACME", &tenants)]);
    let sms = |user: &'static str, priority: i32| {
        let client = &client;
        async move {
            let mut m = NewMessage::new(Kind::Sms);
            m.to_user = Some(user.into());
            m.body = Some("Your audit is due".into());
            m.priority = priority;
            enqueue(client, &m).await.unwrap()
        }
    };
    let ny_msg = sms("ny", 0).await;
    let tokyo_msg = sms("tokyo", 0).await;
    let urgent = sms("ny", 10).await;
    let free = sms("free", 0).await;
    let mut email = NewMessage::new(Kind::Email);
    email.to_address = Some("ann@example.com".into());
    email.subject = Some("Hi".into());
    email.body = Some("Body".into());
    let mail = enqueue(&client, &email).await.unwrap();

    let (channels, _) = db.channels(&config);
    let d = db.dispatcher(&config, channels, "quiet-test");
    d.run_once().await.unwrap();
    for (id, tz, window, whose) in [
        (ny_msg, ny, &own, "the recipient's"),
        (tokyo_msg, tokyo, &tenants, "the tenant's"),
    ] {
        let r = client
            .query_one(
                "SELECT status, attempts, run_at, last_error FROM outpost.messages WHERE id = $1",
                &[&id.0],
            )
            .await
            .unwrap();
        let (status, attempts, run_at, error): (String, i32, DateTime<Utc>, String) =
            (r.get(0), r.get(1), r.get(2), r.get(3));
        assert_eq!((status.as_str(), attempts), ("queued", 0), "{error}");
        let expected = window
            .parse::<outpost::quiet_hours::Window>()
            .unwrap()
            .ends_after(Utc::now(), tz)
            .unwrap();
        assert!(
            (run_at - expected).num_seconds().abs() <= 60,
            "{run_at} vs {expected}"
        );
        assert!(
            error.contains(&format!("quiet hours {window} ({whose}, {tz})")),
            "{error}"
        );
    }
    for id in [urgent, free, mail] {
        assert_eq!(row(&client, id).await.0, "sent");
    }
    // Nothing was attempted for the held messages.
    let held_attempts: i64 = client
        .query_one(
            "SELECT count(*) FROM outpost.attempts WHERE message_id = ANY($1)",
            &[&vec![ny_msg.0, tokyo_msg.0]],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(held_attempts, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_digest_of_five_is_sent_once_by_two_dispatchers() {
    let db = TestDb::new().await;
    let dir = templates();
    let client = db.client().await;
    client
        .execute(
            "INSERT INTO outpost.recipients (user_id, email) VALUES ('42', 'ann@example.com')",
            &[],
        )
        .await
        .unwrap();
    let mut ids = Vec::new();
    for name in ["a1", "b2", "c3", "d4", "e5"] {
        let id: i64 = common::scalar(
            &client,
            "SELECT outpost.send_mail_template('news', to_user => '42',
                     context => jsonb_build_object('name', $1::text),
                     options => '{\"digest_window\": \"2s\"}', digest_key => 'daily')",
            &[&name],
        )
        .await;
        ids.push(id);
    }
    // Another recipient's message with the same key is not part of it.
    let other: i64 = common::scalar(
        &client,
        "SELECT outpost.send_simple_mail('Other', 'Body', to_address => 'bob@example.com',
                 options => '{\"digest_window\": \"2s\"}', digest_key => 'daily')",
        &[],
    )
    .await;
    let config = db.config(&[("OUTPOST__TEMPLATES__DIR", &dir.path().display().to_string())]);
    let mut outputs = Vec::new();
    let mut tasks = Vec::new();
    for worker in ["digest-a", "digest-b"] {
        let (channels, output) = db.channels(&config);
        outputs.push(output);
        let d = db.dispatcher(&config, channels, worker);
        tasks.push(tokio::spawn(async move {
            let deadline = tokio::time::Instant::now() + Duration::from_secs(6);
            while tokio::time::Instant::now() < deadline {
                d.run_once().await.unwrap();
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    let rows = client
        .query(
            "SELECT id, status, digest_of, attempts FROM outpost.messages WHERE id = ANY($1) ORDER BY id",
            &[&ids],
        )
        .await
        .unwrap();
    let leader = ids[0];
    for r in &rows {
        let (id, status, digest_of): (i64, String, Option<i64>) = (r.get(0), r.get(1), r.get(2));
        assert_eq!(status, "sent", "message {id}");
        if id == leader {
            assert_eq!(digest_of, None);
        } else {
            assert_eq!(digest_of, Some(leader), "message {id}");
        }
    }
    let attempts: i64 = common::scalar(
        &client,
        "SELECT count(*) FROM outpost.attempts WHERE message_id = ANY($1)",
        &[&ids],
    )
    .await;
    assert_eq!(attempts, 1, "one send for the five");
    let printed: String = outputs
        .iter()
        .map(|o| String::from_utf8_lossy(&o.lock().unwrap()).into_owned())
        .collect();
    assert_eq!(
        printed.matches("5 news").count(),
        2,
        "subject and HTML once: {printed}"
    );
    for name in ["a1", "b2", "c3", "d4", "e5"] {
        assert_eq!(
            printed.matches(&format!("* {name}")).count(),
            1,
            "{printed}"
        );
    }
    assert_eq!(row(&client, MessageId(other)).await.0, "sent");
}

#[tokio::test]
async fn a_digest_never_waits_past_an_expiry_and_refuses_a_bad_window() {
    let db = TestDb::new().await;
    let client = db.client().await;
    let first: i64 = common::scalar(
        &client,
        "SELECT outpost.send_sms('one', to_address => '+353861234567',
                 options => '{\"digest_window\": \"1h\"}', digest_key => 'k')",
        &[],
    )
    .await;
    let second: i64 = common::scalar(
        &client,
        "SELECT outpost.send_sms('two', to_address => '+353861234567',
                 options => '{\"digest_window\": \"1h\"}', digest_key => 'k',
                 expires_at => now() + interval '10 minutes')",
        &[],
    )
    .await;
    let rows = client
        .query(
            "SELECT run_at < expires_at OR expires_at IS NULL, run_at <= now() + interval '10 minutes'
             FROM outpost.messages WHERE id = ANY($1)",
            &[&vec![first, second]],
        )
        .await
        .unwrap();
    for r in rows {
        assert!(r.get::<_, bool>(0) && r.get::<_, bool>(1));
    }
    let err = client
        .query_one(
            "SELECT outpost.send_sms('x', to_address => '+353861234567',
                 options => '{\"digest_window\": \"soon\"}', digest_key => 'k')",
            &[],
        )
        .await
        .unwrap_err();
    assert!(
        err.as_db_error()
            .unwrap()
            .message()
            .contains("options.digest_window"),
        "{err}"
    );
}
