//! E-mail over a real SMTP server (aiosmtpd): STARTTLS + AUTH, implicit TLS,
//! MIME structure, recipients, attachments, reply codes; and `smtp_db`.

use crate::common;

use base64::Engine as _;
use common::smtp::{PASSWORD, SmtpPeer};
use common::{TestDb, row};
use mailparse::MailHeaderMap;
use outpost::enqueue::{NewMessage, enqueue};
use outpost::message::{Kind, MessageId};
use serde_json::json;

async fn send_one(db: &TestDb, env: Vec<(String, String)>, message: &NewMessage) -> MessageId {
    let client = db.client().await;
    let id = enqueue(&client, message).await.unwrap();
    let config = db.config_env(env);
    let (channels, _) = db.channels(&config);
    let d = db.dispatcher(&config, channels, "smtp-test");
    assert_eq!(d.run_once().await.unwrap(), 1);
    id
}

fn welcome(to: &str) -> NewMessage {
    let mut m = NewMessage::new(Kind::Email);
    m.to_address = Some(to.into());
    m.template = Some("welcome".into());
    m.locale = Some("ro".into());
    m.context =
        json!({"name": "Ștefan", "site": "MEG", "messages": 2, "url": "https://meg.test/login"});
    m
}

#[tokio::test]
async fn starttls_auth_delivers_a_multipart_message_with_attachments() {
    let peer = SmtpPeer::start("starttls");
    let db = TestDb::new().await;
    let mut m = welcome("Ann Doe <ann@example.com>");
    m.options = json!({
        "from": "MEG Reports <reports@meg.test>",
        "cc": ["cc@example.com"],
        "bcc": "hidden@example.com",
        "reply_to": "help@meg.test",
        "headers": {"X-Campaign": "welcome-2026"},
        "attachments": [{
            "filename": "notes.txt",
            "type": "text/plain",
            "content": base64::engine::general_purpose::STANDARD.encode("attached notes"),
        }],
    });
    let id = send_one(&db, peer.env(false, PASSWORD), &m).await;
    let client = db.client().await;
    assert_eq!(row(&client, id).await, ("sent".into(), 1, None));

    let received = peer.received();
    assert_eq!(received.len(), 1);
    let envelope = &received[0].envelope;
    assert_eq!(envelope["tls"], true);
    assert_eq!(envelope["auth"], true);
    assert_eq!(envelope["mail_from"], "reports@meg.test");
    let mut rcpts: Vec<&str> = envelope["rcpt_tos"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    rcpts.sort();
    assert_eq!(
        rcpts,
        ["ann@example.com", "cc@example.com", "hidden@example.com"]
    );

    let raw = &received[0].raw;
    let mail = mailparse::parse_mail(raw).unwrap();
    let headers = &mail.headers;
    let raw_text = String::from_utf8_lossy(raw);
    let subject_line = raw_text
        .lines()
        .find(|l| l.starts_with("Subject:"))
        .unwrap();
    assert!(
        subject_line.contains("=?utf-8?"),
        "the subject is RFC 2047 encoded: {subject_line}"
    );
    assert_eq!(
        headers.get_first_value("Subject").unwrap(),
        "Bun venit la MEG, Ștefan"
    );
    assert_eq!(
        headers.get_first_value("Message-ID").unwrap(),
        format!("<outpost.{id}@meg.test>")
    );
    assert!(headers.get_first_value("Date").is_some());
    assert_eq!(
        headers.get_first_value("Reply-To").unwrap(),
        "help@meg.test"
    );
    assert_eq!(
        headers.get_first_value("X-Campaign").unwrap(),
        "welcome-2026"
    );
    assert!(
        headers.get_first_value("Bcc").is_none(),
        "Bcc must not be in the message"
    );
    assert!(
        headers
            .get_first_value("To")
            .unwrap()
            .contains("ann@example.com")
    );

    assert_eq!(mail.ctype.mimetype, "multipart/mixed");
    let alternative = &mail.subparts[0];
    assert_eq!(alternative.ctype.mimetype, "multipart/alternative");
    assert_eq!(alternative.subparts[0].ctype.mimetype, "text/plain");
    assert_eq!(alternative.subparts[1].ctype.mimetype, "text/html");
    let text = alternative.subparts[0].get_body().unwrap();
    assert!(text.contains("Bună ziua, Ștefan,"), "{text}");
    assert!(text.contains("Aveți 2 mesaje noi."), "{text}");
    let html = alternative.subparts[1].get_body().unwrap();
    assert!(
        html.contains("<a href=\"https://meg.test/login\">Autentificare</a>"),
        "{html}"
    );
    let attachment = &mail.subparts[1];
    assert_eq!(
        attachment
            .get_content_disposition()
            .params
            .get("filename")
            .map(String::as_str),
        Some("notes.txt")
    );
    assert_eq!(attachment.get_body().unwrap(), "attached notes");

    let attempt = client
        .query_one(
            "SELECT provider, provider_message_id FROM outpost.attempts WHERE message_id = $1",
            &[&id.0],
        )
        .await
        .unwrap();
    assert_eq!(attempt.get::<_, Option<String>>(0).as_deref(), Some("smtp"));
    assert_eq!(
        attempt.get::<_, Option<String>>(1),
        Some(format!("<outpost.{id}@meg.test>"))
    );
}

/// What Django's `EmailMessage` can express: inline parts known only by their
/// Content-ID, a part's own headers, several Reply-To addresses, and a
/// verbatim text-only body. Fails without `src/channel/email/attachment.rs`.
#[tokio::test]
async fn inline_parts_part_headers_reply_tos_and_a_verbatim_text_body_arrive() {
    let peer = SmtpPeer::start("starttls");
    let db = TestDb::new().await;
    let b64 = |b: &[u8]| base64::engine::general_purpose::STANDARD.encode(b);
    let mut m = NewMessage::new(Kind::Email);
    m.to_address = Some("ann@example.com".into());
    m.subject = Some("Report".into());
    m.body = Some("Line one.\n\nLine two, as written.".into());
    m.options = json!({
        "verbatim": true,
        "reply_to": ["a@meg.test", "b@meg.test"],
        "attachments": [
            {"content": b64(b"\x89PNG fake"), "type": "image/png", "disposition": "inline",
             "content_id": "<logo@meg.test>", "headers": {"Content-Description": "the logo"}},
            {"filename": "data.csv", "content": b64(b"a,b\n1,2\n"), "type": "text/csv; charset=utf-8",
             "headers": {"X-Attachment-Id": "csv-1"}},
        ],
    });
    let id = send_one(&db, peer.env(false, PASSWORD), &m).await;
    assert_eq!(row(&db.client().await, id).await.0, "sent");
    let received = peer.received();
    let mail = mailparse::parse_mail(&received[0].raw).unwrap();
    assert_eq!(
        mail.headers.get_first_value("Reply-To").unwrap(),
        "a@meg.test, b@meg.test"
    );
    assert_eq!(mail.ctype.mimetype, "multipart/mixed");
    assert_eq!(mail.subparts.len(), 3, "text, inline image, csv");
    assert_eq!(mail.subparts[0].ctype.mimetype, "text/plain");
    assert_eq!(
        mail.subparts[0]
            .get_body()
            .unwrap()
            .replace("\r\n", "\n")
            .trim_end(),
        "Line one.\n\nLine two, as written."
    );
    let image = &mail.subparts[1];
    assert_eq!(image.ctype.mimetype, "image/png");
    assert_eq!(
        image.headers.get_first_value("Content-ID").unwrap(),
        "<logo@meg.test>"
    );
    assert_eq!(
        image
            .headers
            .get_first_value("Content-Description")
            .unwrap(),
        "the logo"
    );
    assert_eq!(
        image.get_content_disposition().disposition,
        mailparse::DispositionType::Inline
    );
    assert_eq!(image.get_body_raw().unwrap(), b"\x89PNG fake");
    let csv = &mail.subparts[2];
    assert_eq!(
        csv.headers.get_first_value("X-Attachment-Id").unwrap(),
        "csv-1"
    );
    assert_eq!(
        csv.get_content_disposition()
            .params
            .get("filename")
            .map(String::as_str),
        Some("data.csv")
    );
    assert_eq!(csv.get_body_raw().unwrap(), b"a,b\n1,2\n");
}

/// A verbatim HTML-only e-mail is one text/html part; a part header that
/// would override the part's own (Content-Type) fails before any send.
#[tokio::test]
async fn a_verbatim_html_body_is_sent_alone_and_reserved_part_headers_fail() {
    let peer = SmtpPeer::start("starttls");
    let db = TestDb::new().await;
    let mut m = NewMessage::new(Kind::Email);
    m.to_address = Some("ann@example.com".into());
    m.subject = Some(String::new());
    m.html = Some("<p>Only <b>HTML</b></p>".into());
    m.options = json!({"verbatim": true});
    let id = send_one(&db, peer.env(false, PASSWORD), &m).await;
    assert_eq!(row(&db.client().await, id).await.0, "sent");
    let received = peer.received();
    let mail = mailparse::parse_mail(&received[0].raw).unwrap();
    assert_eq!(mail.ctype.mimetype, "text/html");
    assert_eq!(
        mail.get_body().unwrap().trim_end(),
        "<p>Only <b>HTML</b></p>"
    );

    m.options = json!({"verbatim": true, "attachments": [{"filename": "a.txt", "content": "",
        "headers": {"content-type": "text/html"}}]});
    let id = send_one(&db, peer.env(false, PASSWORD), &m).await;
    let (status, _, error) = row(&db.client().await, id).await;
    assert_eq!(status, "failed");
    assert!(
        error
            .unwrap()
            .contains("cannot be set through attachment headers")
    );
    assert_eq!(peer.received().len(), 1, "nothing more was sent");
}

#[tokio::test]
async fn implicit_tls_delivers_too() {
    let peer = SmtpPeer::start("tls");
    let db = TestDb::new().await;
    let id = send_one(&db, peer.env(true, PASSWORD), &welcome("bob@example.com")).await;
    assert_eq!(row(&db.client().await, id).await.0, "sent");
    let received = peer.received();
    assert_eq!(received.len(), 1);
    assert_eq!(received[0].envelope["tls"], true);
    assert_eq!(received[0].envelope["auth"], true);
}

/// Credentials that look like numbers reach the server's AUTH exactly as
/// written, from the Django names and from `OUTPOST__…` alike.
#[tokio::test]
async fn numeric_looking_credentials_reach_smtp_auth_as_written() {
    for (user, password) in [("007", "0123"), ("1e3", "+15005550006"), ("true", "nan")] {
        let peer = SmtpPeer::start_with("starttls", user, password);
        let db = TestDb::new().await;
        let mut env = peer.env(false, password);
        env.retain(|(k, _)| !k.ends_with("__USERNAME") && !k.ends_with("__PASSWORD"));
        env.push(("EMAIL_HOST_USER".into(), user.into()));
        env.push(("EMAIL_HOST_PASSWORD".into(), password.into()));
        let id = send_one(&db, env, &welcome("ann@example.com")).await;
        assert_eq!(
            row(&db.client().await, id).await,
            ("sent".into(), 1, None),
            "EMAIL_HOST_USER={user} EMAIL_HOST_PASSWORD={password}"
        );
        let id = send_one(&db, peer.env(false, password), &welcome("bob@example.com")).await;
        assert_eq!(
            row(&db.client().await, id).await,
            ("sent".into(), 1, None),
            "OUTPOST__EMAIL__SMTP__PASSWORD={password}"
        );
        assert_eq!(peer.received().len(), 2);
        assert!(peer.received().iter().all(|r| r.envelope["auth"] == true));
    }
}

#[tokio::test]
async fn a_wrong_password_fails_permanently_with_the_servers_reply() {
    let peer = SmtpPeer::start("starttls");
    let db = TestDb::new().await;
    let id = send_one(&db, peer.env(false, "wrong"), &welcome("ann@example.com")).await;
    let (status, attempts, error) = row(&db.client().await, id).await;
    assert_eq!((status.as_str(), attempts), ("failed", 1));
    let error = error.unwrap();
    assert!(error.contains("535"), "{error}");
    assert!(
        !error.contains("wrong"),
        "the password must not leak: {error}"
    );
    assert!(peer.received().is_empty());
}

#[tokio::test]
async fn reply_codes_decide_permanent_or_transient() {
    let peer = SmtpPeer::start("starttls");
    let db = TestDb::new().await;
    let id = send_one(
        &db,
        peer.env(false, PASSWORD),
        &welcome("nobody@example.com"),
    )
    .await;
    let (status, _, error) = row(&db.client().await, id).await;
    assert_eq!(status, "failed");
    assert!(error.as_deref().unwrap().contains("550"), "{error:?}");
    let code: Option<String> = common::scalar(
        &db.client().await,
        "SELECT provider_code FROM outpost.attempts WHERE message_id = $1",
        &[&id.0],
    )
    .await;
    assert_eq!(code.as_deref(), Some("550"));

    let id = send_one(&db, peer.env(false, PASSWORD), &welcome("busy@example.com")).await;
    let (status, _, error) = row(&db.client().await, id).await;
    assert_eq!(status, "queued", "452 is transient: {error:?}");
    assert!(error.unwrap().contains("452"));
}

#[tokio::test]
async fn an_unreachable_server_is_transient() {
    let db = TestDb::new().await;
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let env = vec![
        ("OUTPOST__EMAIL__BACKEND".to_owned(), "smtp".to_owned()),
        (
            "OUTPOST__EMAIL__SMTP__HOST".to_owned(),
            "127.0.0.1".to_owned(),
        ),
        ("OUTPOST__EMAIL__SMTP__PORT".to_owned(), port.to_string()),
    ];
    let id = send_one(&db, env, &welcome("ann@example.com")).await;
    let (status, _, error) = row(&db.client().await, id).await;
    assert_eq!(status, "queued");
    assert!(error.unwrap().contains("unreachable"));
}

#[tokio::test]
async fn bad_addresses_and_header_injection_fail_before_any_send() {
    let peer = SmtpPeer::start("starttls");
    let db = TestDb::new().await;
    let cases = [
        (welcome("not an address"), "invalid to address"),
        (
            {
                let mut m = welcome("ann@example.com");
                m.options = json!({"headers": {"X-Note": "a\r\nBcc: victim@example.com"}});
                m
            },
            "header X-Note contains CR or LF",
        ),
        (
            {
                let mut m = welcome("ann@example.com");
                m.options = json!({"from": "Eve <eve@example.com>\r\nBcc: victim@example.com"});
                m
            },
            "from address contains a line break",
        ),
        (
            {
                let mut m = welcome("ann@example.com");
                m.template = Some("no_such_template".into());
                m
            },
            "no_such_template.txt",
        ),
    ];
    for (message, expected) in cases {
        let id = send_one(&db, peer.env(false, PASSWORD), &message).await;
        let (status, attempts, error) = row(&db.client().await, id).await;
        assert_eq!((status.as_str(), attempts), ("failed", 1));
        assert!(
            error.as_deref().unwrap().contains(expected),
            "{error:?} should contain {expected}"
        );
    }
    assert!(peer.received().is_empty(), "nothing reached the server");
}

#[tokio::test]
async fn smtp_db_uses_the_lowest_order_and_follows_changes_live() {
    let first = SmtpPeer::start("starttls");
    let second = SmtpPeer::start("starttls");
    let db = TestDb::new().await;
    let client = db.client().await;
    for (name, port, order) in [("primary", first.port, 10), ("secondary", second.port, 20)] {
        client
            .execute(
                "INSERT INTO outpost.smtp_servers (name, host, port, username, password, security, \"order\")
                 VALUES ($1, '127.0.0.1', $2, 'outpost', $3, 'starttls', $4)",
                &[&name, &i32::from(port), &PASSWORD, &order],
            )
            .await
            .unwrap();
    }
    // Both peers' certificates are trusted through one CA file.
    let ca = first.dir.path().join("both.pem");
    let pem = [
        std::fs::read(first.cert_path()).unwrap(),
        std::fs::read(second.cert_path()).unwrap(),
    ]
    .concat();
    std::fs::write(&ca, pem).unwrap();
    let env = vec![
        ("OUTPOST__EMAIL__BACKEND".to_owned(), "smtp_db".to_owned()),
        (
            "OUTPOST__EMAIL__SMTP__CA_FILE".to_owned(),
            ca.display().to_string(),
        ),
    ];
    let config = db.config_env(env);
    let (channels, _) = db.channels(&config);
    let d = db.dispatcher(&config, channels, "w");

    enqueue(&client, &welcome("a@example.com")).await.unwrap();
    d.run_once().await.unwrap();
    assert_eq!((first.received().len(), second.received().len()), (1, 0));

    // An administrator reorders the servers: the next e-mail goes to the other, no restart.
    client
        .execute(
            "UPDATE outpost.smtp_servers SET \"order\" = 1 WHERE name = 'secondary'",
            &[],
        )
        .await
        .unwrap();
    enqueue(&client, &welcome("b@example.com")).await.unwrap();
    d.run_once().await.unwrap();
    assert_eq!((first.received().len(), second.received().len()), (1, 1));

    // Disabling every server leaves messages queued with a clear reason.
    client
        .execute("UPDATE outpost.smtp_servers SET enabled = false", &[])
        .await
        .unwrap();
    let id = enqueue(&client, &welcome("c@example.com")).await.unwrap();
    d.run_once().await.unwrap();
    let (status, _, error) = row(&client, id).await;
    assert_eq!(status, "queued");
    assert_eq!(
        error.as_deref(),
        Some("no enabled SMTP server in outpost.smtp_servers")
    );
}

fn sink_env(port: u16, extra: &[(&str, &str)]) -> Vec<(String, String)> {
    let mut env = vec![
        ("OUTPOST__EMAIL__BACKEND".to_owned(), "smtp".to_owned()),
        (
            "OUTPOST__EMAIL__SMTP__HOST".to_owned(),
            "127.0.0.1".to_owned(),
        ),
        ("OUTPOST__EMAIL__SMTP__PORT".to_owned(), port.to_string()),
    ];
    env.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    env
}

#[tokio::test]
async fn a_pool_of_one_connection_sends_every_message_once() {
    let (port, seen) = outpost_testkit::fakes::smtp_sink().await.unwrap();
    let db = TestDb::new().await;
    let client = db.client().await;
    let mut ids = Vec::new();
    for to in ["a@example.com", "b@example.com", "c@example.com"] {
        ids.push(enqueue(&client, &welcome(to)).await.unwrap());
    }
    let config = db.config_env(sink_env(port, &[("OUTPOST__EMAIL__SMTP__POOL_SIZE", "1")]));
    let (channels, _) = db.channels(&config);
    let d = db.dispatcher(&config, channels, "smtp-test");
    assert_eq!(d.run_once().await.unwrap(), 3);
    for id in &ids {
        assert_eq!(row(&client, *id).await.0, "sent");
    }
    let seen = seen.lock().unwrap();
    assert_eq!(seen.len(), 3, "{seen:?}");
    assert!(ids.iter().all(|id| seen.get(&id.0) == Some(&1)));
}

#[tokio::test]
async fn starttls_required_but_not_offered_is_transient() {
    let (port, seen) = outpost_testkit::fakes::smtp_sink().await.unwrap();
    let db = TestDb::new().await;
    let env = sink_env(port, &[("OUTPOST__EMAIL__SMTP__USE_TLS", "true")]);
    let id = send_one(&db, env, &welcome("ann@example.com")).await;
    let (status, _, error) = row(&db.client().await, id).await;
    assert_eq!(status, "queued");
    assert!(error.unwrap().contains("does not offer STARTTLS"));
    assert!(seen.lock().unwrap().is_empty(), "nothing went out in clear");
}

#[tokio::test]
async fn a_connection_the_server_closed_while_idle_is_replaced() {
    let (port, seen) = outpost_testkit::fakes::smtp_sink_closing_after(Some(1))
        .await
        .unwrap();
    let db = TestDb::new().await;
    let client = db.client().await;
    let config = db.config_env(sink_env(
        port,
        &[
            ("OUTPOST__EMAIL__SMTP__POOL_SIZE", "1"),
            ("OUTPOST__EMAIL__SMTP__IDLE_CHECK", "200ms"),
        ],
    ));
    let (channels, _) = db.channels(&config);
    let d = db.dispatcher(&config, channels, "smtp-test");
    let first = enqueue(&client, &welcome("a@example.com")).await.unwrap();
    assert_eq!(d.run_once().await.unwrap(), 1);
    // Past the pool's idle check: the pooled connection is tested before reuse.
    tokio::time::sleep(std::time::Duration::from_millis(400)).await;
    let second = enqueue(&client, &welcome("b@example.com")).await.unwrap();
    assert_eq!(d.run_once().await.unwrap(), 1);
    for id in [first, second] {
        let (status, _, error) = row(&client, id).await;
        assert_eq!(status, "sent", "{error:?}");
    }
    assert_eq!(seen.lock().unwrap().len(), 2);
}

#[tokio::test]
async fn no_log_level_reveals_the_smtp_password() {
    let peer = SmtpPeer::start("starttls");
    let db = TestDb::new().await;
    let client = db.client().await;
    // The same peer as [email.smtp] and as a row of outpost.smtp_servers.
    client
        .execute(
            "INSERT INTO outpost.smtp_servers (name, host, port, username, password, security, \"order\")
             VALUES ('relay', '127.0.0.1', $1, $2, $3, 'starttls', 1)",
            &[&i32::from(peer.port), &common::smtp::USER, &PASSWORD],
        )
        .await
        .unwrap();
    let direct = enqueue(&client, &welcome("a@example.com")).await.unwrap();
    let mut via_db = welcome("b@example.com");
    via_db.provider = Some("smtp_db".into());
    let via_db = enqueue(&client, &via_db).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("outpost.log");
    let mut env = peer.env(false, PASSWORD);
    env.push(("OUTPOST__LOG__LEVEL".into(), "trace".into()));
    let daemon = common::daemon::start_logged(&db.url, &env, &log);
    common::daemon::settled(&client, &[direct.0, via_db.0]).await;
    drop(daemon);
    assert_eq!(row(&client, direct).await.0, "sent");
    assert_eq!(row(&client, via_db).await.0, "sent");
    assert_eq!(peer.received().len(), 2);
    let logs = std::fs::read_to_string(&log).unwrap();
    assert!(
        logs.contains("TRACE") || logs.contains("DEBUG"),
        "no debug logs captured"
    );
    let b64 = |s: &str| base64::engine::general_purpose::STANDARD.encode(s);
    let user = common::smtp::USER;
    for secret in [
        PASSWORD.to_owned(),
        b64(&format!("\0{user}\0{PASSWORD}")),
        b64(PASSWORD),
    ] {
        assert!(!logs.contains(&secret), "the logs reveal {secret:?}");
    }
}

#[tokio::test]
async fn suppressed_recipients_in_lists_cc_and_bcc_get_nothing() {
    let peer = SmtpPeer::start("starttls");
    let db = TestDb::new().await;
    let client = db.client().await;
    client
        .execute(
            "INSERT INTO outpost.suppressions (family, address, reason) VALUES ('email', 'supp@b.example', 'test')",
            &[],
        )
        .await
        .unwrap();
    let plain = |to: &str, options: serde_json::Value| {
        let mut m = NewMessage::new(Kind::Email);
        m.to_address = Some(to.into());
        m.subject = Some("Report".into());
        m.body = Some("Body".into());
        m.options = options;
        m
    };
    let cases = [
        plain("ok1@x.example, supp@b.example", json!({})),
        plain("Bob <ok2@x.example>, Supp <SUPP@b.example>", json!({})),
        plain(
            "ok3@x.example",
            json!({"cc": "supp@b.example", "bcc": ["Supp <supp@b.example>", "ok4@x.example"]}),
        ),
        plain(
            "supp@b.example, Supp Again <Supp@B.example>",
            json!({"cc": "ok5@x.example"}),
        ),
    ];
    let mut ids = Vec::new();
    for m in &cases {
        ids.push(enqueue(&client, m).await.unwrap());
    }
    let config = db.config_env(peer.env(false, PASSWORD));
    let (channels, _) = db.channels(&config);
    let d = db.dispatcher(&config, channels, "smtp-test");
    assert_eq!(d.run_once().await.unwrap(), 4);

    let received = peer.received();
    assert_eq!(
        received.len(),
        3,
        "three messages had someone left to send to"
    );
    for r in &received {
        let rcpts = r.envelope["rcpt_tos"].as_array().unwrap();
        assert!(
            rcpts
                .iter()
                .all(|a| !a.as_str().unwrap().eq_ignore_ascii_case("supp@b.example")),
            "{rcpts:?}"
        );
        let raw = String::from_utf8_lossy(&r.raw).to_ascii_lowercase();
        assert!(
            !raw.contains("supp@b.example"),
            "a header names the suppressed address"
        );
    }
    let mut rcpts: Vec<String> = received
        .iter()
        .flat_map(|r| r.envelope["rcpt_tos"].as_array().unwrap().clone())
        .map(|a| a.as_str().unwrap().to_owned())
        .collect();
    rcpts.sort();
    assert_eq!(
        rcpts,
        [
            "ok1@x.example",
            "ok2@x.example",
            "ok3@x.example",
            "ok4@x.example"
        ]
    );
    for id in &ids[..3] {
        assert_eq!(row(&client, *id).await.0, "sent");
        let note: String = common::scalar(
            &client,
            "SELECT note FROM outpost.attempts WHERE message_id = $1",
            &[&id.0],
        )
        .await;
        assert_eq!(note, "not sent to 1 suppressed recipient: supp@b.example");
    }
    // Every primary recipient suppressed: nothing is sent, not even the copies.
    let (status, _, error) = row(&client, ids[3]).await;
    assert_eq!(status, "suppressed");
    assert!(error.unwrap().contains("suppression list"));
}
