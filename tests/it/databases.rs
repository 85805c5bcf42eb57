//! One daemon serving several databases (`[database] urls`, issue 30 part
//! 3): each database's messages delivered once, one Twilio rate limit and
//! one kind budget shared across them, `/readyz` and metrics per database,
//! one database going down while the others keep sending, and every way in
//! from outside (callbacks, unsubscribe links, the console, inbox tokens,
//! inbound mail) reaching the database it belongs to.

use crate::common;
use crate::twilio::{Clocked, SID, TOKEN, env};

use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::TestDb;
use common::databases::{Numbered, Serving, emails, sent, slow_sendgrid, until_sent};
use wiremock::matchers::path;
use wiremock::{Mock, MockServer};

#[tokio::test]
async fn three_databases_are_each_delivered_once_under_one_shared_twilio_rate_limit() {
    let arrivals = Arc::new(Mutex::new(Vec::new()));
    let twilio = MockServer::start().await;
    Mock::given(path(format!("/2010-04-01/Accounts/{SID}/Messages.json")))
        .respond_with(Clocked(arrivals.clone()))
        .mount(&twilio)
        .await;
    let dbs = [
        TestDb::new().await,
        TestDb::new().await,
        TestDb::new().await,
    ];
    for (i, db) in dbs.iter().enumerate() {
        db.client()
            .await
            .execute(
                "INSERT INTO outpost.messages (kind, to_address, body)
                 SELECT 'sms', '+353861234567', 'n' || g FROM generate_series(1, 6) g",
                &[],
            )
            .await
            .unwrap();
        emails(db, 5, &format!("db{i}-")).await;
    }
    let serving = Serving::start(
        &[&dbs[0], &dbs[1], &dbs[2]],
        env(&twilio.uri(), &[("OUTPOST__TWILIO__RATE_LIMIT", "4")]),
    )
    .await;
    for db in &dbs {
        until_sent(db, 11, Duration::from_secs(30)).await;
    }
    for db in &dbs {
        assert_eq!(sent(db).await, (11, 0), "{}: each message once", db.name);
    }
    let printed = String::from_utf8_lossy(&serving.sink.lock().unwrap()).into_owned();
    for i in 0..3 {
        for n in 1..=5 {
            assert_eq!(
                printed.matches(&format!("Subject: db{i}-{n}\r\n")).count()
                    + printed.matches(&format!("Subject: db{i}-{n}\n")).count(),
                1,
                "e-mail db{i}-{n} printed once"
            );
        }
    }
    // 18 SMS under one limit of 4 a second (a burst of 4, then one every
    // 250 ms): at least 3.5 s from the first to the last. Three limits, one
    // per database, would take about 0.5 s.
    let times = arrivals.lock().unwrap().clone();
    assert_eq!(times.len(), 18);
    let spread = *times.last().unwrap() - times[0];
    assert!(
        spread >= Duration::from_millis(3300),
        "the rate limit was not shared: 18 requests in {spread:?}"
    );

    // Each database's sends and queue gauges under its own name.
    let mut metrics = String::new();
    for _ in 0..50 {
        metrics = serving.metrics().await;
        if dbs.iter().all(|db| {
            metrics.contains(&format!(
                "outpost_oldest_queued_seconds{{database=\"{}\"}}",
                db.name
            ))
        }) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    for db in &dbs {
        for series in [
            format!(
                "outpost_sends_total{{database=\"{}\",kind=\"sms\",provider=\"twilio\",outcome=\"sent\"}} 6",
                db.name
            ),
            format!(
                "outpost_sends_total{{database=\"{}\",kind=\"email\",provider=\"console\",outcome=\"sent\"}} 5",
                db.name
            ),
            format!("outpost_oldest_queued_seconds{{database=\"{}\"}}", db.name),
        ] {
            assert!(metrics.contains(&series), "{series} in\n{metrics}");
        }
    }

    let (status, ready) = serving.readyz().await;
    assert_eq!(status, 200, "{ready}");
    for db in &dbs {
        let one = &ready["databases"][&db.name];
        assert_eq!(one["ready"], true, "{ready}");
        assert_eq!(one["listen"], "connected", "{ready}");
    }
    serving.stop().await;
}

#[tokio::test]
async fn one_database_going_down_does_not_stop_the_others() {
    let dbs = [
        TestDb::new().await,
        TestDb::new().await,
        TestDb::new().await,
    ];
    let serving = Serving::start(
        &[&dbs[0], &dbs[1], &dbs[2]],
        vec![
            ("OUTPOST__DISPATCH__LEASE".to_owned(), "5s".to_owned()),
            (
                "OUTPOST__DISPATCH__SEND_TIMEOUT".to_owned(),
                "2s".to_owned(),
            ),
        ],
    )
    .await;
    for db in &dbs {
        emails(db, 3, "before").await;
        until_sent(db, 3, Duration::from_secs(20)).await;
    }
    let admin = dbs[0].client().await;
    let down = &dbs[1].name;
    admin
        .batch_execute(&format!(
            "ALTER DATABASE \"{down}\" ALLOW_CONNECTIONS false;
             SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{down}';"
        ))
        .await
        .unwrap();

    for db in [&dbs[0], &dbs[2]] {
        emails(db, 4, "while-down").await;
    }
    for db in [&dbs[0], &dbs[2]] {
        until_sent(db, 7, Duration::from_secs(20)).await;
    }
    let (status, ready) = serving.readyz().await;
    assert_eq!(status, 503, "{ready}");
    assert_eq!(ready["databases"][down]["ready"], false, "{ready}");
    let said = ready["databases"][down]["database"]
        .as_str()
        .unwrap_or_default();
    assert!(said.starts_with("reconnecting"), "{ready}");
    for db in [&dbs[0], &dbs[2]] {
        assert_eq!(ready["databases"][&db.name]["ready"], true, "{ready}");
    }

    admin
        .batch_execute(&format!("ALTER DATABASE \"{down}\" ALLOW_CONNECTIONS true"))
        .await
        .unwrap();
    emails(&dbs[1], 2, "after").await;
    until_sent(&dbs[1], 5, Duration::from_secs(30)).await;
    for db in &dbs {
        let (_, not_once) = sent(db).await;
        assert_eq!(
            not_once, 0,
            "{}: a message with other than one attempt",
            db.name
        );
    }
    serving.stop().await;
}

#[tokio::test]
async fn a_twilio_callback_lands_in_the_database_that_sent_the_message() {
    let twilio = MockServer::start().await;
    Mock::given(path(format!("/2010-04-01/Accounts/{SID}/Messages.json")))
        .respond_with(Numbered(std::sync::atomic::AtomicU32::new(1)))
        .mount(&twilio)
        .await;
    let dbs = [TestDb::new().await, TestDb::new().await];
    let mut ids = Vec::new();
    for db in &dbs {
        let id: i64 = db
            .client()
            .await
            .query_one(
                "INSERT INTO outpost.messages (kind, to_address, body) VALUES ('sms', '+353861234567', 'hi') RETURNING id",
                &[],
            )
            .await
            .unwrap()
            .get(0);
        ids.push(id);
    }
    assert_eq!(ids[0], ids[1], "the two databases' messages share a number");
    let serving = Serving::start(&[&dbs[0], &dbs[1]], env(&twilio.uri(), &[])).await;
    for db in &dbs {
        until_sent(db, 1, Duration::from_secs(20)).await;
    }
    let second = dbs[1].client().await;
    let sid: String = second
        .query_one("SELECT provider_message_id FROM outpost.messages", &[])
        .await
        .unwrap()
        .get(0);
    // Twilio's callback for the second database's message, with the id
    // Outpost put in its StatusCallback URL: the same number as the first's.
    let path = format!("/webhooks/twilio/status?outpost_id={}", ids[1]);
    let params: Vec<(String, String)> =
        [("MessageSid", sid.as_str()), ("MessageStatus", "delivered")]
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
    let signature = outpost::signature::twilio_signature(
        TOKEN,
        &format!("https://notify.example.com{path}"),
        &params,
    );
    let answer = reqwest::Client::new()
        .post(format!("{}{path}", serving.http))
        .header("X-Twilio-Signature", signature)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(serde_urlencoded::to_string(&params).unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 200);
    let status = |client: tokio_postgres::Client| async move {
        client
            .query_one("SELECT status::text FROM outpost.messages", &[])
            .await
            .unwrap()
            .get::<_, String>(0)
    };
    assert_eq!(status(second).await, "delivered");
    assert_eq!(
        status(dbs[0].client().await).await,
        "sent",
        "the first database's message of the same number is untouched"
    );
    serving.stop().await;
}

#[tokio::test]
async fn the_console_switches_between_the_databases_with_one_sign_in() {
    let dbs = [TestDb::new().await, TestDb::new().await];
    for (db, subject) in dbs.iter().zip(["only-in-the-first", "only-in-the-second"]) {
        db.client()
            .await
            .execute(
                "INSERT INTO outpost.messages (kind, to_address, subject, body, status)
                 VALUES ('email', 'a@example.com', $1, 'b', 'cancelled')",
                &[&subject],
            )
            .await
            .unwrap();
    }
    // The console's users live in the first database only.
    let (name, password) = common::console::ADMIN;
    outpost::console::users::add(
        &dbs[0].client().await,
        name,
        "admin".parse().unwrap(),
        password,
        None,
    )
    .await
    .unwrap();
    let port = common::free_port();
    let serving = Serving::start(
        &[&dbs[0], &dbs[1]],
        vec![
            ("OUTPOST__CONSOLE__ENABLED".to_owned(), "true".to_owned()),
            (
                "OUTPOST__CONSOLE__LISTEN".to_owned(),
                format!("127.0.0.1:{port}"),
            ),
        ],
    )
    .await;
    let mut agent = common::console::Agent::new(&format!("http://127.0.0.1:{port}"));
    let (status, _, body) = agent.login(name, password).await;
    assert_eq!(status, 303, "{body}");
    let (_, _, page) = agent.get("/messages").await;
    assert!(
        page.contains("only-in-the-first") && !page.contains("only-in-the-second"),
        "{page}"
    );
    for db in &dbs {
        assert!(
            page.contains(&format!("<option value=\"{}\"", db.name)),
            "{page}"
        );
    }

    let (status, _, _) = agent.post("/database", &[("database", &dbs[1].name)]).await;
    assert_eq!(status, 303);
    let (_, _, page) = agent.get("/messages").await;
    assert!(
        page.contains("only-in-the-second") && !page.contains("only-in-the-first"),
        "{page}"
    );
    assert!(
        page.contains(&format!("<option value=\"{}\" selected>", dbs[1].name)),
        "{page}"
    );
    // A name the daemon does not serve is refused; the choice stays.
    let (status, _, _) = agent.post("/database", &[("database", "elsewhere")]).await;
    assert_eq!(status, 404);
    let (_, _, page) = agent.get("/messages").await;
    assert!(page.contains("only-in-the-second"), "{page}");
    serving.stop().await;
}

#[tokio::test]
async fn an_unsubscribe_link_acts_in_the_database_its_e_mail_came_from() {
    let dbs = [TestDb::new().await, TestDb::new().await];
    for db in &dbs {
        db.client()
            .await
            .batch_execute(
                "INSERT INTO outpost.recipients (user_id, email) VALUES ('42', 'someone@example.com')",
            )
            .await
            .unwrap();
    }
    // User 42 of the second database (another person than the first's 42).
    dbs[1]
        .client()
        .await
        .execute(
            "INSERT INTO outpost.messages (kind, to_user, subject, body, category)
             VALUES ('email', '42', 'news', 'b', 'newsletter')",
            &[],
        )
        .await
        .unwrap();
    let port = common::free_port();
    let base = format!("http://127.0.0.1:{port}");
    let serving = Serving::start(
        &[&dbs[0], &dbs[1]],
        vec![
            (
                "OUTPOST__HTTP__LISTEN".to_owned(),
                format!("127.0.0.1:{port}"),
            ),
            ("OUTPOST__UNSUBSCRIBE__PUBLIC_URL".to_owned(), base.clone()),
            (
                "OUTPOST__UNSUBSCRIBE__SECRET".to_owned(),
                "unsubscribe-secret-of-at-least-32-chars".to_owned(),
            ),
        ],
    )
    .await;
    assert_eq!(serving.http, base);
    until_sent(&dbs[1], 1, Duration::from_secs(20)).await;
    let printed = String::from_utf8_lossy(&serving.sink.lock().unwrap()).into_owned();
    let start = printed
        .find(&format!("<{base}/unsubscribe/"))
        .expect(&printed)
        + 1;
    let link = printed[start..].split('>').next().unwrap().to_owned();
    let answer = reqwest::Client::new()
        .post(&link)
        .header("content-type", "application/x-www-form-urlencoded")
        .body("List-Unsubscribe=One-Click")
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 200);
    let mut off = Vec::new();
    for db in &dbs {
        off.push(
            db.client()
                .await
                .query_one(
                    "SELECT count(*) FROM outpost.preferences WHERE user_id = '42' AND NOT enabled",
                    &[],
                )
                .await
                .unwrap()
                .get::<_, i64>(0),
        );
    }
    assert_eq!(
        off,
        [0, 1],
        "the second database's 42 unsubscribed, the first's untouched"
    );
    serving.stop().await;
}

#[tokio::test]
async fn an_inbox_token_is_served_by_the_database_that_minted_it() {
    use common::inbox::{Stream, seed, system_message, token};
    let dbs = [TestDb::new().await, TestDb::new().await];
    let mut clients = Vec::new();
    for db in &dbs {
        let client = db.client().await;
        seed(&client).await;
        clients.push(client);
    }
    // The test databases are copies of one template, keys included: a
    // token signed with a key both hold names no database, and is refused.
    let shared = token(&clients[0], "42", "1 hour").await;
    let serving = Serving::start(
        &[&dbs[0], &dbs[1]],
        vec![("OUTPOST__INBOX__HEARTBEAT".to_owned(), "1s".to_owned())],
    )
    .await;
    let refused = Stream::request(&serving.http, &shared, None).await;
    assert_eq!(refused.status(), 401);
    let said = refused.text().await.unwrap();
    assert!(said.contains("shared by several databases"), "{said}");
    // Each gets a key of its own, as `outpost inbox rotate-key` gives it.
    for client in &clients {
        client
            .batch_execute("SELECT outpost.inbox_rotate_key()")
            .await
            .unwrap();
    }
    // User 42 of each database, each with a token minted in their own.
    let mut streams = Vec::new();
    for client in &clients {
        let minted = token(client, "42", "1 hour").await;
        // The hubs learn a new key from its notification (or, at most once
        // a second, from a token naming it): wait until it is known.
        for _ in 0..50 {
            if Stream::request(&serving.http, &minted, None).await.status() == 200 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        streams.push(Stream::open(&serving.http, &minted, None).await);
    }
    system_message(&clients[1], "42", "for the second database's 42").await;
    assert_eq!(
        streams[1].until("message").await.json()["body"],
        "for the second database's 42"
    );
    assert!(
        streams[0].quiet(Duration::from_millis(700)).await,
        "the first database's 42 was sent the second's message"
    );
    system_message(&clients[0], "42", "for the first database's 42").await;
    assert_eq!(
        streams[0].until("message").await.json()["body"],
        "for the first database's 42"
    );
    assert!(streams[1].quiet(Duration::from_millis(700)).await);
    serving.stop().await;
}

#[tokio::test]
async fn inbound_mail_is_stored_in_the_database_whose_routes_claim_it() {
    let dbs = [TestDb::new().await, TestDb::new().await];
    dbs[1]
        .client()
        .await
        .batch_execute("INSERT INTO outpost.inbound_routes (pattern, tenant) VALUES ('b.example', 'hospital-b')")
        .await
        .unwrap();
    let serving = Serving::start(
        &[&dbs[0], &dbs[1]],
        vec![
            (
                "OUTPOST__WEBHOOKS__INBOUND_USERNAME".to_owned(),
                "parse".to_owned(),
            ),
            (
                "OUTPOST__WEBHOOKS__INBOUND_PASSWORD".to_owned(),
                "parse-secret".to_owned(),
            ),
        ],
    )
    .await;
    for (to, subject) in [
        ("reports@b.example", "for b"),
        ("someone@elsewhere.example", "for nobody"),
    ] {
        let body = format!(
            "--xYzZY\r\nContent-Disposition: form-data; name=\"to\"\r\n\r\n{to}\r\n\
             --xYzZY\r\nContent-Disposition: form-data; name=\"from\"\r\n\r\nann@example.com\r\n\
             --xYzZY\r\nContent-Disposition: form-data; name=\"subject\"\r\n\r\n{subject}\r\n\
             --xYzZY\r\nContent-Disposition: form-data; name=\"text\"\r\n\r\nhello\r\n--xYzZY--\r\n"
        );
        let answer = reqwest::Client::new()
            .post(format!("{}/inbound/sendgrid", serving.http))
            .header("content-type", "multipart/form-data; boundary=xYzZY")
            .basic_auth("parse", Some("parse-secret"))
            .body(body)
            .send()
            .await
            .unwrap();
        assert!(answer.status().is_success(), "{}", answer.status());
    }
    let mut stored = Vec::new();
    for db in &dbs {
        let rows = db
            .client()
            .await
            .query(
                "SELECT subject, tenant FROM outpost.inbound_emails ORDER BY id",
                &[],
            )
            .await
            .unwrap();
        stored.push(
            rows.iter()
                .map(|r| (r.get::<_, String>(0), r.get::<_, Option<String>>(1)))
                .collect::<Vec<_>>(),
        );
    }
    assert_eq!(
        stored,
        [
            vec![("for nobody".to_owned(), None)],
            vec![("for b".to_owned(), Some("hospital-b".to_owned()))],
        ],
        "claimed mail in the database whose route claims it, the rest in the first"
    );
    serving.stop().await;
}

#[tokio::test]
async fn a_kinds_concurrency_is_one_budget_across_the_databases() {
    let (sendgrid, most) = slow_sendgrid(Duration::from_millis(300)).await;
    let dbs = [
        TestDb::new().await,
        TestDb::new().await,
        TestDb::new().await,
    ];
    for (i, db) in dbs.iter().enumerate() {
        emails(db, 4, &format!("db{i}-")).await;
    }
    let serving = Serving::start(
        &[&dbs[0], &dbs[1], &dbs[2]],
        [
            ("OUTPOST__EMAIL__BACKEND", "sendgrid"),
            ("OUTPOST__EMAIL__SENDGRID__BASE_URL", sendgrid.as_str()),
            ("OUTPOST__EMAIL__SENDGRID__API_KEY", "SG.test"),
            ("OUTPOST__EMAIL__FROM", "Outpost <noreply@example.com>"),
            ("OUTPOST__DISPATCH__KIND_CONCURRENCY__EMAIL", "2"),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect(),
    )
    .await;
    for db in &dbs {
        until_sent(db, 4, Duration::from_secs(30)).await;
    }
    // 12 e-mails, 2 at a time for the whole process (3 databases with a
    // budget each would have held up to 6).
    assert_eq!(most.load(std::sync::atomic::Ordering::SeqCst), 2);
    serving.stop().await;
}
