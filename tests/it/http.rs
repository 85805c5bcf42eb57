//! The HTTP side over real sockets: inbound mail in SendGrid's shapes, the
//! signed event webhook, Twilio status callbacks, suppression, health,
//! readiness and metrics.

use crate::common;

use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use common::recorder::Recorder;
use common::{TestDb, row};
use futures_util::StreamExt;
use outpost::channel::{Channel, Channels};
use outpost::enqueue::{NewMessage, enqueue};
use outpost::http::{AppState, router, serve};
use outpost::message::{Kind, MessageId};
use outpost::metrics::Metrics;
use outpost::signature::{p256_spki_base64, twilio_signature};
use ring::rand::SystemRandom;
use ring::signature::{ECDSA_P256_SHA256_ASN1_SIGNING, EcdsaKeyPair, KeyPair};
use serde_json::json;
use tokio_util::sync::CancellationToken;

const USER: &str = "sendgrid";
const PASSWORD: &str = "parse-secret";
const TWILIO_TOKEN: &str = "twilio-token-abc";
const PUBLIC_URL: &str = "https://notify.example.com";

struct Server {
    url: String,
    db: TestDb,
    key: EcdsaKeyPair,
    heartbeat: Arc<outpost::dispatch::Heartbeat>,
    metrics: Arc<Metrics>,
    _stop: tokio_util::sync::DropGuard,
}

async fn start(body_limit: &str) -> Server {
    start_with(&[("OUTPOST__HTTP__BODY_LIMIT", body_limit)]).await
}

/// A server with `overrides` of the configuration (`[http]` limits and timeouts).
async fn start_with(overrides: &[(&str, &str)]) -> Server {
    outpost::tls::install_crypto_provider();
    let db = TestDb::new().await;
    let rng = SystemRandom::new();
    let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, &rng).unwrap();
    let key =
        EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, pkcs8.as_ref(), &rng).unwrap();
    let public_key = p256_spki_base64(key.public_key().as_ref());
    let mut settings = vec![
        ("OUTPOST__WEBHOOKS__INBOUND_USERNAME", USER),
        ("OUTPOST__WEBHOOKS__INBOUND_PASSWORD", PASSWORD),
        ("OUTPOST__WEBHOOKS__SENDGRID_PUBLIC_KEY", &public_key),
        ("OUTPOST__TWILIO__AUTH_TOKEN", TWILIO_TOKEN),
        ("OUTPOST__TWILIO__PUBLIC_URL", PUBLIC_URL),
    ];
    settings.extend_from_slice(overrides);
    let config = db.config(&settings);
    let pool = outpost::db::pool(&db.url, 4).unwrap();
    let heartbeat = Arc::new(outpost::dispatch::Heartbeat::default());
    heartbeat.beat();
    let metrics = Arc::new(Metrics::new());
    let state = AppState::new(pool, &config, metrics.clone(), Some(heartbeat.clone()));
    let app = router(state, config.http.request_timeout);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let stop = CancellationToken::new();
    let limits = outpost::http::server::Limits::from(&config.http);
    tokio::spawn(serve(listener, app, limits, stop.clone()));
    Server {
        url,
        db,
        key,
        heartbeat,
        metrics,
        _stop: stop.drop_guard(),
    }
}

/// A form part: name, optional (filename, content type), data.
type Part<'a> = (&'a str, Option<(&'a str, &'a str)>, &'a [u8]);
type OwnedPart = (&'static str, Option<(&'static str, &'static str)>, Vec<u8>);

fn borrow(parts: &[OwnedPart]) -> Vec<Part<'_>> {
    parts
        .iter()
        .map(|(n, f, d)| (*n, *f, d.as_slice()))
        .collect()
}

/// A multipart/form-data body with boundary xYzZY, as SendGrid sends it.
fn multipart(parts: &[Part<'_>], newline: &str) -> Vec<u8> {
    let mut body = Vec::new();
    for (name, file, data) in parts {
        body.extend_from_slice(format!("--xYzZY{newline}").as_bytes());
        match file {
            Some((filename, ctype)) => body.extend_from_slice(
                format!(
                    "Content-Disposition: form-data; name=\"{name}\"; filename=\"{filename}\"{newline}Content-Type: {ctype}{newline}{newline}"
                )
                .as_bytes(),
            ),
            None => body.extend_from_slice(format!("Content-Disposition: form-data; name=\"{name}\"{newline}{newline}").as_bytes()),
        }
        body.extend_from_slice(data);
        body.extend_from_slice(newline.as_bytes());
    }
    body.extend_from_slice(format!("--xYzZY--{newline}").as_bytes());
    body
}

fn parsed_mode(message_id: &str, subject: &[u8], charset: &str) -> Vec<OwnedPart> {
    let headers = format!(
        "Received: by mx.sendgrid.net\nMessage-ID: {message_id}\nFrom: Ann <ann@example.com>\nTo: reports@inbound.meg.test\nSubject: report\n"
    );
    vec![
        ("headers", None, headers.into_bytes()),
        ("dkim", None, b"{@example.com : pass}".to_vec()),
        ("to", None, b"reports@inbound.meg.test".to_vec()),
        ("from", None, b"Ann <ann@example.com>".to_vec()),
        ("subject", None, subject.to_vec()),
        ("text", None, b"Audit attached.\n".to_vec()),
        ("html", None, b"<p>Audit attached.</p>".to_vec()),
        ("sender_ip", None, b"192.0.2.7".to_vec()),
        ("spam_score", None, b"0.3".to_vec()),
        ("spam_report", None, b"Spam detection software... 0.3 points".to_vec()),
        ("envelope", None, br#"{"to":["reports@inbound.meg.test"],"from":"ann@example.com"}"#.to_vec()),
        ("attachments", None, b"1".to_vec()),
        ("attachment-info", None, br#"{"attachment1":{"filename":"audit.csv","type":"text/csv"}}"#.to_vec()),
        ("charsets", None, format!(r#"{{"to":"UTF-8","from":"UTF-8","subject":"{charset}","text":"UTF-8","html":"UTF-8"}}"#).into_bytes()),
        ("SPF", None, b"pass".to_vec()),
        ("attachment1", Some(("audit.csv", "text/csv")), b"ward,score\n4,97\n".to_vec()),
    ]
}

async fn post_inbound(
    server: &Server,
    body: Vec<u8>,
    auth: Option<(&str, &str)>,
) -> reqwest::Response {
    let mut request = reqwest::Client::new()
        .post(format!("{}/inbound/sendgrid", server.url))
        .header("content-type", "multipart/form-data; boundary=xYzZY")
        .body(body);
    if let Some((user, password)) = auth {
        request = request.basic_auth(user, Some(password));
    }
    request.send().await.unwrap()
}

#[tokio::test]
async fn parsed_mode_is_stored_with_attachments_and_announced() {
    let server = start("31457280").await;
    let client = server.db.client().await;
    // A receiver LISTENing, as docs/http.md shows.
    let (listener, mut connection) = server
        .db
        .url
        .parse::<tokio_postgres::Config>()
        .unwrap()
        .connect(tokio_postgres::NoTls)
        .await
        .unwrap();
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    tokio::spawn(async move {
        let mut stream = futures_util::stream::poll_fn(move |cx| connection.poll_message(cx));
        while let Some(Ok(tokio_postgres::AsyncMessage::Notification(n))) = stream.next().await {
            let _ = tx.send(n.payload().to_owned());
        }
    });
    listener
        .batch_execute("LISTEN outpost_inbound")
        .await
        .unwrap();

    for (newline, message_id) in [
        ("\r\n", "<crlf-1@example.com>"),
        ("\n", "<lf-1@example.com>"),
    ] {
        let parts = parsed_mode(message_id, b"Monthly audit", "UTF-8");
        let parts = borrow(&parts);
        let response =
            post_inbound(&server, multipart(&parts, newline), Some((USER, PASSWORD))).await;
        assert_eq!(
            response.status(),
            200,
            "{newline:?}: {}",
            response.text().await.unwrap()
        );
        let id: String = tokio::time::timeout(std::time::Duration::from_secs(5), rx.recv())
            .await
            .unwrap()
            .unwrap();
        let row = client
            .query_one(
                "SELECT message_id, mode, from_address, subject, text_body, html_body, sender_ip, spf, dkim,
                        spam_score, envelope->>'from', (SELECT count(*) FROM outpost.inbound_attachments a WHERE a.inbound_email_id = e.id),
                        (SELECT content FROM outpost.inbound_attachments a WHERE a.inbound_email_id = e.id)
                 FROM outpost.inbound_emails e WHERE id = $1::text::bigint",
                &[&id],
            )
            .await
            .unwrap();
        assert_eq!(row.get::<_, Option<String>>(0).as_deref(), Some(message_id));
        assert_eq!(row.get::<_, String>(1), "parsed");
        assert_eq!(
            row.get::<_, Option<String>>(2).as_deref(),
            Some("Ann <ann@example.com>")
        );
        assert_eq!(
            row.get::<_, Option<String>>(3).as_deref(),
            Some("Monthly audit")
        );
        assert_eq!(
            row.get::<_, Option<String>>(4).as_deref(),
            Some("Audit attached.\n")
        );
        assert_eq!(
            row.get::<_, Option<String>>(5).as_deref(),
            Some("<p>Audit attached.</p>")
        );
        assert_eq!(
            row.get::<_, Option<String>>(6).as_deref(),
            Some("192.0.2.7")
        );
        assert_eq!(row.get::<_, Option<String>>(7).as_deref(), Some("pass"));
        assert_eq!(
            row.get::<_, Option<String>>(8).as_deref(),
            Some("{@example.com : pass}")
        );
        assert_eq!(row.get::<_, Option<f64>>(9), Some(0.3));
        assert_eq!(
            row.get::<_, Option<String>>(10).as_deref(),
            Some("ann@example.com")
        );
        assert_eq!(row.get::<_, i64>(11), 1);
        assert_eq!(row.get::<_, Vec<u8>>(12), b"ward,score\n4,97\n");
    }
    assert_eq!(
        common::count(&client, "SELECT count(*) FROM outpost.inbound_emails").await,
        2
    );
}

#[tokio::test]
async fn a_retried_delivery_is_stored_once() {
    let server = start("31457280").await;
    let parts = parsed_mode("<dup@example.com>", b"Once", "UTF-8");
    let parts = borrow(&parts);
    for _ in 0..3 {
        let response =
            post_inbound(&server, multipart(&parts, "\r\n"), Some((USER, PASSWORD))).await;
        assert_eq!(response.status(), 200);
    }
    let client = server.db.client().await;
    assert_eq!(
        common::count(&client, "SELECT count(*) FROM outpost.inbound_emails").await,
        1
    );
    assert_eq!(
        common::count(&client, "SELECT count(*) FROM outpost.inbound_attachments").await,
        1
    );
}

/// Basic credentials and a Twilio token that look like numbers authenticate
/// exactly as written.
#[tokio::test]
async fn numeric_looking_webhook_credentials_are_accepted_as_written() {
    let server = start_with(&[
        ("OUTPOST__WEBHOOKS__INBOUND_USERNAME", "007"),
        ("OUTPOST__WEBHOOKS__INBOUND_PASSWORD", "0123"),
        ("OUTPOST__TWILIO__AUTH_TOKEN", "0123"),
    ])
    .await;
    let parts = parsed_mode("<numeric@example.com>", b"Hi", "UTF-8");
    let parts = borrow(&parts);
    let body = || multipart(&parts, "\r\n");
    assert_eq!(
        post_inbound(&server, body(), Some(("7", "123")))
            .await
            .status(),
        401
    );
    assert_eq!(
        post_inbound(&server, body(), Some(("007", "0123")))
            .await
            .status(),
        200
    );

    let client = server.db.client().await;
    let id = sent_email(&client, "x@example.com", "SM0009").await;
    client
        .execute(
            "UPDATE outpost.messages SET kind = 'sms', to_address = '+353861234567' WHERE id = $1",
            &[&id.0],
        )
        .await
        .unwrap();
    let path = "/webhooks/twilio/status";
    let delivered = [("MessageSid", "SM0009"), ("MessageStatus", "delivered")];
    assert_eq!(post_twilio(&server, path, &delivered, "123").await, 403);
    assert_eq!(post_twilio(&server, path, &delivered, "0123").await, 200);
    assert_eq!(row(&client, id).await.0, "delivered");
}

/// Posts a parsed-mode mail whose subject is `subject` in `charset`; returns the stored subject.
async fn stored_subject(message_id: &str, subject: &[u8], charset: &str) -> String {
    let server = start("31457280").await;
    let parts = parsed_mode(message_id, subject, charset);
    let parts = borrow(&parts);
    let response = post_inbound(&server, multipart(&parts, "\r\n"), Some((USER, PASSWORD))).await;
    assert_eq!(response.status(), 200);
    common::scalar(
        &server.db.client().await,
        "SELECT subject FROM outpost.inbound_emails",
        &[],
    )
    .await
}

#[tokio::test]
async fn non_utf8_fields_are_decoded_by_the_charsets_map() {
    let subject = stored_subject(
        "<latin1@example.com>",
        b"Caf\xe9 r\xe9sum\xe9",
        "iso-8859-1",
    )
    .await;
    assert_eq!(subject, "Café résumé");
}

#[tokio::test]
async fn raw_mode_is_parsed_with_its_attachments() {
    let server = start("31457280").await;
    let mime = concat!(
        "Message-ID: <raw-1@example.com>\r\n",
        "From: Bob <bob@example.com>\r\n",
        "To: reports@inbound.meg.test\r\n",
        "Subject: =?utf-8?q?R=C4=83spuns?=\r\n",
        "MIME-Version: 1.0\r\n",
        "Content-Type: multipart/mixed; boundary=\"outer\"\r\n",
        "\r\n",
        "--outer\r\n",
        "Content-Type: multipart/alternative; boundary=\"inner\"\r\n",
        "\r\n",
        "--inner\r\n",
        "Content-Type: text/plain; charset=utf-8\r\n",
        "\r\n",
        "Plain body\r\n",
        "--inner\r\n",
        "Content-Type: text/html; charset=utf-8\r\n",
        "\r\n",
        "<p>HTML body</p>\r\n",
        "--inner--\r\n",
        "--outer\r\n",
        "Content-Type: application/pdf; name=\"report.pdf\"\r\n",
        "Content-Disposition: attachment; filename=\"report.pdf\"\r\n",
        "Content-Transfer-Encoding: base64\r\n",
        "\r\n",
        "JVBERi0xLjQgZmFrZQ==\r\n",
        "--outer--\r\n",
    );
    let parts: Vec<Part<'_>> = vec![
        ("dkim", None, b"{@example.com : pass}"),
        ("email", None, mime.as_bytes()),
        ("to", None, b"reports@inbound.meg.test"),
        ("from", None, b"Bob <bob@example.com>"),
        ("sender_ip", None, b"192.0.2.8"),
        (
            "envelope",
            None,
            br#"{"to":["reports@inbound.meg.test"],"from":"bob@example.com"}"#,
        ),
        ("charsets", None, br#"{"to":"UTF-8","from":"UTF-8"}"#),
        ("SPF", None, b"softfail"),
        ("spam_score", None, b"5.1"),
    ];
    let response = post_inbound(&server, multipart(&parts, "\r\n"), Some((USER, PASSWORD))).await;
    assert_eq!(response.status(), 200, "{}", response.text().await.unwrap());
    let client = server.db.client().await;
    let row = client
        .query_one(
            "SELECT mode, message_id, subject, text_body, html_body, raw_message IS NOT NULL, spf, spam_score FROM outpost.inbound_emails",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(row.get::<_, String>(0), "raw");
    assert_eq!(
        row.get::<_, Option<String>>(1).as_deref(),
        Some("<raw-1@example.com>")
    );
    assert_eq!(row.get::<_, Option<String>>(2).as_deref(), Some("Răspuns"));
    assert_eq!(
        row.get::<_, Option<String>>(3)
            .as_deref()
            .map(str::trim_end),
        Some("Plain body")
    );
    assert_eq!(
        row.get::<_, Option<String>>(4)
            .as_deref()
            .map(str::trim_end),
        Some("<p>HTML body</p>")
    );
    assert!(row.get::<_, bool>(5));
    assert_eq!(row.get::<_, Option<String>>(6).as_deref(), Some("softfail"));
    assert_eq!(row.get::<_, Option<f64>>(7), Some(5.1));
    let attachment = client
        .query_one(
            "SELECT filename, content_type, content FROM outpost.inbound_attachments",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(
        attachment.get::<_, Option<String>>(0).as_deref(),
        Some("report.pdf")
    );
    assert_eq!(
        attachment.get::<_, Option<String>>(1).as_deref(),
        Some("application/pdf")
    );
    assert_eq!(attachment.get::<_, Vec<u8>>(2), b"%PDF-1.4 fake");
}

#[tokio::test]
async fn bad_requests_store_nothing() {
    let server = start("4096").await;
    let parts = parsed_mode("<bad@example.com>", b"x", "UTF-8");
    let parts = borrow(&parts);
    let good = multipart(&parts, "\r\n");

    // No or wrong credentials: 401.
    assert_eq!(
        post_inbound(&server, good.clone(), None).await.status(),
        401
    );
    assert_eq!(
        post_inbound(&server, good.clone(), Some((USER, "wrong")))
            .await
            .status(),
        401
    );
    // Truncated multipart: 400.
    let truncated = good[..good.len() / 2].to_vec();
    assert_eq!(
        post_inbound(&server, truncated, Some((USER, PASSWORD)))
            .await
            .status(),
        400
    );
    // Not multipart at all: 400.
    let response = reqwest::Client::new()
        .post(format!("{}/inbound/sendgrid", server.url))
        .basic_auth(USER, Some(PASSWORD))
        .header("content-type", "application/json")
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    // Multipart without any e-mail fields: 400.
    let empty = multipart(&[("spam_score", None, b"1")], "\r\n");
    assert_eq!(
        post_inbound(&server, empty, Some((USER, PASSWORD)))
            .await
            .status(),
        400
    );
    // Larger than the limit: 413.
    let big = vec![b'a'; 8192];
    let oversize = multipart(&[("from", None, b"a@b.c"), ("text", None, &big)], "\r\n");
    assert_eq!(
        post_inbound(&server, oversize, Some((USER, PASSWORD)))
            .await
            .status(),
        413
    );

    let client = server.db.client().await;
    assert_eq!(
        common::count(&client, "SELECT count(*) FROM outpost.inbound_emails").await,
        0
    );
    assert_eq!(
        common::count(&client, "SELECT count(*) FROM outpost.inbound_attachments").await,
        0
    );
    // And the server still answers.
    assert_eq!(
        post_inbound(&server, good, Some((USER, PASSWORD)))
            .await
            .status(),
        200
    );
}

fn sign(key: &EcdsaKeyPair, timestamp: &str, body: &[u8]) -> String {
    let mut payload = timestamp.as_bytes().to_vec();
    payload.extend_from_slice(body);
    let sig = key.sign(&SystemRandom::new(), &payload).unwrap();
    base64::engine::general_purpose::STANDARD.encode(sig.as_ref())
}

async fn post_events(
    server: &Server,
    body: &[u8],
    timestamp: &str,
    signature: Option<String>,
) -> reqwest::StatusCode {
    let mut request = reqwest::Client::new()
        .post(format!("{}/webhooks/sendgrid/events", server.url))
        .header("content-type", "application/json")
        .header("X-Twilio-Email-Event-Webhook-Timestamp", timestamp)
        .body(body.to_vec());
    if let Some(signature) = signature {
        request = request.header("X-Twilio-Email-Event-Webhook-Signature", signature);
    }
    request.send().await.unwrap().status()
}

async fn sent_email(client: &tokio_postgres::Client, to: &str, provider_id: &str) -> MessageId {
    let mut m = NewMessage::new(Kind::Email);
    m.to_address = Some(to.into());
    m.subject = Some("s".into());
    m.body = Some("b".into());
    let id = enqueue(client, &m).await.unwrap();
    client
        .execute(
            "UPDATE outpost.messages SET status = 'sent', attempts = 1, provider_message_id = $2, sent_at = now() WHERE id = $1",
            &[&id.0, &provider_id],
        )
        .await
        .unwrap();
    id
}

#[tokio::test]
async fn signed_events_deliver_bounce_and_suppress() {
    let server = start("31457280").await;
    let client = server.db.client().await;
    let delivered = sent_email(&client, "ann@example.com", "AAA111").await;
    let bounced = sent_email(&client, "Bob <Bob@Example.com>", "BBB222").await;
    let body = serde_json::to_vec(&json!([
        {"email": "ann@example.com", "event": "delivered", "sg_event_id": "ev-1", "sg_message_id": "AAA111.filterdrecv-1", "timestamp": 1764000000},
        {"email": "bob@example.com", "event": "bounce", "sg_event_id": "ev-2", "sg_message_id": "BBB222.filterdrecv-2", "reason": "550 5.1.1 no such user", "status": "5.1.1", "type": "bounce", "timestamp": 1764000001},
        {"email": "ann@example.com", "event": "open", "sg_event_id": "ev-3", "sg_message_id": "AAA111.filterdrecv-1", "outpost_id": delivered.to_string(), "timestamp": 1764000002},
    ]))
    .unwrap();
    let now = chrono::Utc::now().timestamp().to_string();
    let signature = sign(&server.key, &now, &body);
    // Tampered body, wrong timestamp, stale timestamp, no signature: 403.
    let mut tampered = body.clone();
    tampered[5] ^= 1;
    assert_eq!(
        post_events(&server, &tampered, &now, Some(signature.clone())).await,
        403
    );
    assert_eq!(
        post_events(
            &server,
            &body,
            &(chrono::Utc::now().timestamp() + 1).to_string(),
            Some(signature.clone())
        )
        .await,
        403
    );
    let old = (chrono::Utc::now().timestamp() - 3600).to_string();
    assert_eq!(
        post_events(&server, &body, &old, Some(sign(&server.key, &old, &body))).await,
        403
    );
    assert_eq!(post_events(&server, &body, &now, None).await, 403);
    assert_eq!(
        common::count(&client, "SELECT count(*) FROM outpost.events").await,
        0
    );

    // Valid, twice (SendGrid retries): applied once.
    assert_eq!(
        post_events(&server, &body, &now, Some(signature.clone())).await,
        200
    );
    assert_eq!(
        post_events(&server, &body, &now, Some(signature)).await,
        200
    );
    assert_eq!(
        common::count(&client, "SELECT count(*) FROM outpost.events").await,
        3
    );
    assert_eq!(row(&client, delivered).await.0, "delivered");
    let (status, _, error) = row(&client, bounced).await;
    assert_eq!(status, "bounced");
    assert!(error.unwrap().contains("550 5.1.1 no such user"));
    let suppressed = client
        .query_one(
            "SELECT family, address, source FROM outpost.suppressions",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(
        (
            suppressed.get::<_, String>(0),
            suppressed.get::<_, String>(1),
            suppressed.get::<_, String>(2)
        ),
        (
            "email".into(),
            "bob@example.com".into(),
            "sendgrid:bounce".into()
        )
    );
    let matched: i64 = common::count(
        &client,
        "SELECT count(*) FROM outpost.events WHERE message_id IS NOT NULL",
    )
    .await;
    assert_eq!(matched, 3);

    // The next message to the bounced address is suppressed without a send.
    let mut next = NewMessage::new(Kind::Email);
    next.to_address = Some("BOB@example.com".into());
    next.subject = Some("again".into());
    next.body = Some("b".into());
    let next = enqueue(&client, &next).await.unwrap();
    let recorder = Recorder::accepting("rec");
    let d = server.db.dispatcher(
        &server.db.config(&[]),
        Channels::with_default_for_all(recorder.clone() as Arc<dyn Channel>),
        "w",
    );
    d.run_once().await.unwrap();
    let (status, _, error) = row(&client, next).await;
    assert_eq!(status, "suppressed");
    assert!(error.unwrap().contains("suppression list"));
    assert_eq!(recorder.count(), 0);
    // Lifting the suppression (docs/http.md's SQL) lets the next one through.
    client.execute("DELETE FROM outpost.suppressions WHERE family = 'email' AND address = outpost.normalize_address('bob@example.com')", &[]).await.unwrap();
    assert_eq!(
        client
            .query_one("SELECT outpost.retry($1)", &[&next.0])
            .await
            .unwrap()
            .get::<_, Option<i64>>(0),
        Some(next.0)
    );
    d.run_once().await.unwrap();
    assert_eq!(row(&client, next).await.0, "sent");
}

async fn post_twilio(
    server: &Server,
    path: &str,
    params: &[(&str, &str)],
    token: &str,
) -> reqwest::StatusCode {
    let owned: Vec<(String, String)> = params
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let signature = twilio_signature(token, &format!("{PUBLIC_URL}{path}"), &owned);
    reqwest::Client::new()
        .post(format!("{}{path}", server.url))
        .header("X-Twilio-Signature", signature)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(serde_urlencoded::to_string(&owned).unwrap())
        .send()
        .await
        .unwrap()
        .status()
}

#[tokio::test]
async fn twilio_callbacks_are_verified_and_applied() {
    let server = start("31457280").await;
    let client = server.db.client().await;
    let ok = sent_email(&client, "x@example.com", "SM0001").await;
    client
        .execute(
            "UPDATE outpost.messages SET kind = 'sms', to_address = '+353861234567' WHERE id = $1",
            &[&ok.0],
        )
        .await
        .unwrap();
    let failed = sent_email(&client, "y@example.com", "SM0002").await;
    client
        .execute(
            "UPDATE outpost.messages SET kind = 'sms', to_address = '+353861234568' WHERE id = $1",
            &[&failed.0],
        )
        .await
        .unwrap();

    let path = "/webhooks/twilio/status";
    let delivered = [
        ("MessageSid", "SM0001"),
        ("MessageStatus", "delivered"),
        ("AccountSid", "AC1"),
        ("To", "+353861234567"),
    ];
    assert_eq!(
        post_twilio(&server, path, &delivered, "wrong-token").await,
        403
    );
    assert_eq!(row(&client, ok).await.0, "sent");
    assert_eq!(
        post_twilio(&server, path, &delivered, TWILIO_TOKEN).await,
        200
    );
    assert_eq!(row(&client, ok).await.0, "delivered");

    // Matched by Outpost's id in the callback URL, with the error code kept.
    let with_id = format!("{path}?outpost_id={}", failed.0);
    let undelivered = [
        ("MessageSid", "SM-unknown"),
        ("MessageStatus", "undelivered"),
        ("ErrorCode", "30005"),
    ];
    assert_eq!(
        post_twilio(&server, &with_id, &undelivered, TWILIO_TOKEN).await,
        200
    );
    let (status, _, error) = row(&client, failed).await;
    assert_eq!(
        (status.as_str(), error.as_deref()),
        ("bounced", Some("Twilio undelivered: error 30005"))
    );
    assert_eq!(
        common::count(
            &client,
            "SELECT count(*) FROM outpost.events WHERE provider = 'twilio'"
        )
        .await,
        2
    );
}

#[tokio::test]
async fn health_readiness_and_metrics() {
    let server = start("31457280").await;
    let http = reqwest::Client::new();
    let get = |path: &str| http.get(format!("{}{path}", server.url)).send();
    assert_eq!(get("/healthz").await.unwrap().status(), 200);
    let ready = get("/readyz").await.unwrap();
    assert_eq!(ready.status(), 200);
    assert_eq!(
        ready.json::<serde_json::Value>().await.unwrap()["dispatcher"],
        "running"
    );

    let client = server.db.client().await;
    sent_email(&client, "a@example.com", "M1").await;
    let mut queued = NewMessage::new(Kind::Sms);
    queued.to_address = Some("+353861234567".into());
    enqueue(&client, &queued).await.unwrap();
    let _ = post_inbound(
        &server,
        multipart(&[("spam_score", None, b"1")], "\r\n"),
        None,
    )
    .await;
    // The queue gauges come from the background refresh, not the scrape.
    let stop = CancellationToken::new();
    let _stop = stop.clone().drop_guard();
    tokio::spawn(outpost::metrics::refresh::run(
        server.db.url.clone(),
        true,
        server.metrics.clone(),
        Duration::from_secs(1),
        stop,
    ));
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    let metrics = loop {
        let metrics = get("/metrics").await.unwrap().text().await.unwrap();
        if metrics.contains("outpost_messages{kind=\"sms\",status=\"queued\"} 1") {
            break metrics;
        }
        assert!(std::time::Instant::now() < deadline, "{metrics}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert!(
        !metrics.contains("status=\"sent\""),
        "only queued and sending are gauges: {metrics}"
    );
    assert!(
        metrics.contains("outpost_oldest_queued_seconds"),
        "{metrics}"
    );
    assert!(
        metrics.contains(
            "outpost_http_requests_total{endpoint=\"inbound\",result=\"unauthorized\"} 1"
        ),
        "{metrics}"
    );

    // A schema behind the binary, or a stalled dispatcher: 503.
    client
        .execute(
            "DELETE FROM outpost.schema_migrations WHERE version = '0004'",
            &[],
        )
        .await
        .unwrap();
    let not_ready = get("/readyz").await.unwrap();
    assert_eq!(not_ready.status(), 503);
    assert_eq!(
        not_ready.json::<serde_json::Value>().await.unwrap()["migrations"],
        "pending: 0004"
    );
    drop(server.heartbeat);
}

/// When the database fails during a readiness check, /readyz says so, not
/// "database error while migrating".
#[tokio::test]
async fn readiness_names_a_database_failure_as_such() {
    let server = start("31457280").await;
    let admin = server.db.client().await;
    admin
        .batch_execute(&format!(
            "ALTER DATABASE {} SET statement_timeout = '200ms'",
            server.db.name
        ))
        .await
        .unwrap();
    let mut locker = server.db.client().await;
    let tx = locker.transaction().await.unwrap();
    tx.batch_execute("LOCK TABLE outpost.schema_migrations IN ACCESS EXCLUSIVE MODE")
        .await
        .unwrap();
    let response = reqwest::get(format!("{}/readyz", server.url))
        .await
        .unwrap();
    assert_eq!(response.status(), 503);
    let body: serde_json::Value = response.json().await.unwrap();
    let database = body["database"].as_str().unwrap();
    assert!(
        database.starts_with("unreachable: reading outpost.schema_migrations failed"),
        "{body}"
    );
    assert!(!database.contains("migrating"), "{body}");
    assert!(database.contains("statement timeout"), "{body}");
    tx.rollback().await.unwrap();
}

/// Every prefix of a payload (a client cut off mid-body) either comes back
/// unchanged / fails cleanly, or yields exactly what the whole payload does:
/// nothing is invented from a fragment.
#[test]
fn no_prefix_of_a_payload_panics_or_parses_into_garbage() {
    let parts = parsed_mode("<p@example.com>", b"Subject", "UTF-8");
    let parts = borrow(&parts);
    let mut converted = 0;
    for newline in ["\n", "\r\n"] {
        let body = multipart(&parts, newline);
        let full =
            outpost::http::inbound::crlf_delimiters(bytes::Bytes::from(body.clone()), "xYzZY");
        if newline == "\n" {
            assert_ne!(full.as_ref(), body.as_slice(), "an LF body is rewritten");
            assert!(full.ends_with(b"--xYzZY--\r\n"));
        } else {
            assert_eq!(
                full.as_ref(),
                body.as_slice(),
                "a CRLF body passes unchanged"
            );
        }
        for end in 0..body.len() {
            let prefix = bytes::Bytes::copy_from_slice(&body[..end]);
            let out = outpost::http::inbound::crlf_delimiters(prefix.clone(), "xYzZY");
            if out != prefix {
                // Rewritten only when the closing delimiter is in the prefix,
                // and then exactly as the whole body.
                assert_eq!(out, full, "prefix of {end} bytes");
                assert!(find(&prefix, b"\n--xYzZY--"), "prefix of {end} bytes");
                converted += 1;
            }
        }
    }
    assert!(
        converted > 0,
        "the prefixes holding the closing delimiter are rewritten"
    );

    let mime = b"Message-ID: <m@x>\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\nhi\r\n--b--\r\n";
    let parse = |bytes: &[u8]| {
        outpost::inbound_mail::parse(&outpost::inbound_mail::Form {
            fields: vec![("email".into(), bytes.to_vec())],
            files: Vec::new(),
        })
    };
    let whole = parse(mime).unwrap();
    assert_eq!(whole.message_id.as_deref(), Some("<m@x>"));
    assert_eq!(whole.text.as_deref().map(str::trim_end), Some("hi"));
    let mut parsed = 0;
    for end in 0..mime.len() {
        match parse(&mime[..end]) {
            Ok(email) => {
                parsed += 1;
                // The stored raw mail is the input, byte for byte.
                assert_eq!(email.raw.as_deref().map(str::as_bytes), Some(&mime[..end]));
                assert_eq!(email.mode, "raw");
                // Fields are fragments of the real ones, never anything else.
                if let Some(id) = &email.message_id {
                    assert!("<m@x>".starts_with(id.as_str()), "{end}: {id:?}");
                }
                if let Some(text) = &email.text {
                    let received = String::from_utf8_lossy(&mime[..end]);
                    assert!(received.contains(text.as_str()), "{end}: {text:?}");
                    assert!(
                        text.starts_with("hi") || "hi".starts_with(text.as_str()),
                        "{end}: {text:?}"
                    );
                }
                assert!(email.attachments.is_empty(), "{end}");
            }
            Err(e) => assert!(e.to_string().contains("email"), "{end}: {e}"),
        }
    }
    assert!(parsed > 0);
}

fn find(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

#[tokio::test]
async fn invalid_utf8_in_a_utf8_field_is_stored_readably() {
    let subject = stored_subject(
        "<bad-utf8@example.com>",
        b"Bad \xff\xfe bytes \xc3",
        "UTF-8",
    )
    .await;
    assert_eq!(subject, "Bad \u{fffd}\u{fffd} bytes \u{fffd}");
}

/// Reads from `socket` until it is closed by the server (EOF or reset), or
/// `within` passes; true when it was closed.
async fn closed_within(socket: &mut tokio::net::TcpStream, within: std::time::Duration) -> bool {
    use tokio::io::AsyncReadExt;
    let mut buffer = [0u8; 1024];
    let deadline = tokio::time::Instant::now() + within;
    loop {
        match tokio::time::timeout_at(deadline, socket.read(&mut buffer)).await {
            Err(_) => return false,
            Ok(Ok(0)) | Ok(Err(_)) => return true,
            Ok(Ok(_)) => {}
        }
    }
}

async fn connect(server: &Server) -> tokio::net::TcpStream {
    let address = server.url.trim_start_matches("http://");
    tokio::net::TcpStream::connect(address).await.unwrap()
}

#[tokio::test]
async fn half_open_connections_are_closed_and_health_still_answers() {
    use tokio::io::AsyncWriteExt;
    let server = start_with(&[
        ("OUTPOST__HTTP__MAX_CONNECTIONS", "50"),
        ("OUTPOST__HTTP__HEADER_TIMEOUT", "1s"),
        ("OUTPOST__HTTP__KEEP_ALIVE_TIMEOUT", "1s"),
    ])
    .await;
    // 300 clients that send part of a request header and stop.
    let mut sockets = Vec::new();
    for _ in 0..300 {
        let mut socket = connect(&server).await;
        socket
            .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: ")
            .await
            .unwrap();
        sockets.push(socket);
    }
    let started = std::time::Instant::now();
    let health = reqwest::Client::new()
        .get(format!("{}/healthz", server.url))
        .timeout(std::time::Duration::from_secs(30))
        .send()
        .await
        .unwrap();
    assert_eq!(health.status(), 200);
    eprintln!("/healthz answered after {:?}", started.elapsed());
    // Every half-open socket is closed by the server (6 rounds of 50 × 1 s).
    for (i, socket) in sockets.iter_mut().enumerate() {
        assert!(
            closed_within(socket, std::time::Duration::from_secs(20)).await,
            "half-open socket {i} was never closed"
        );
    }
    assert!(started.elapsed() < std::time::Duration::from_secs(20));
}

#[tokio::test]
async fn idle_keep_alive_and_slow_headers_have_their_own_timeouts() {
    use tokio::io::AsyncWriteExt;
    let second = std::time::Duration::from_secs(1);
    // An idle keep-alive connection is closed after keep_alive_timeout.
    let server = start_with(&[
        ("OUTPOST__HTTP__HEADER_TIMEOUT", "60s"),
        ("OUTPOST__HTTP__KEEP_ALIVE_TIMEOUT", "1s"),
    ])
    .await;
    let mut socket = connect(&server).await;
    socket
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let mut answer = [0u8; 12];
    tokio::io::AsyncReadExt::read_exact(&mut socket, &mut answer)
        .await
        .unwrap();
    assert_eq!(&answer, b"HTTP/1.1 200");
    assert!(closed_within(&mut socket, 4 * second).await);
    // Headers that never complete are cut after header_timeout.
    let server = start_with(&[
        ("OUTPOST__HTTP__HEADER_TIMEOUT", "1s"),
        ("OUTPOST__HTTP__KEEP_ALIVE_TIMEOUT", "60s"),
    ])
    .await;
    let mut socket = connect(&server).await;
    socket
        .write_all(b"GET /healthz HTTP/1.1\r\n")
        .await
        .unwrap();
    assert!(closed_within(&mut socket, 4 * second).await);
}

#[tokio::test]
async fn an_unauthenticated_post_is_refused_before_its_body_is_sent() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let server = start("31457280").await;
    let mut socket = connect(&server).await;
    // Announces 30 MB and sends none of it.
    socket
        .write_all(
            b"POST /inbound/sendgrid HTTP/1.1\r\nHost: x\r\n\
              Content-Type: multipart/form-data; boundary=xYzZY\r\n\
              Content-Length: 30000000\r\n\r\n",
        )
        .await
        .unwrap();
    let mut answer = [0u8; 12];
    tokio::time::timeout(
        std::time::Duration::from_secs(3),
        socket.read_exact(&mut answer),
    )
    .await
    .expect("no answer before the body: the body is read before authentication")
    .unwrap();
    assert_eq!(&answer, b"HTTP/1.1 401");
}

#[tokio::test]
async fn signed_callbacks_have_their_own_body_limit() {
    let server = start("31457280").await;
    let big = vec![b' '; 3 * 1024 * 1024];
    let now = chrono::Utc::now().timestamp().to_string();
    let signature = sign(&server.key, &now, &big);
    assert_eq!(post_events(&server, &big, &now, Some(signature)).await, 413);
    let response = reqwest::Client::new()
        .post(format!("{}/webhooks/twilio/status", server.url))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(big)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 413);
    // A normal batch still goes through.
    let body = serde_json::to_vec(&json!([{"event": "open", "sg_event_id": "small-1"}])).unwrap();
    let signature = sign(&server.key, &now, &body);
    assert_eq!(
        post_events(&server, &body, &now, Some(signature)).await,
        200
    );
}

#[tokio::test]
async fn bodies_in_flight_share_one_memory_budget() {
    use tokio::io::AsyncWriteExt;
    let server = start_with(&[
        ("OUTPOST__HTTP__BODY_LIMIT", "40000"),
        ("OUTPOST__HTTP__WEBHOOK_BODY_LIMIT", "20000"),
        ("OUTPOST__HTTP__BODY_MEMORY", "50000"),
    ])
    .await;
    let mut parts = parsed_mode("<budget@example.com>", b"Budget", "UTF-8");
    parts.push(("html", None, vec![b'x'; 30000]));
    let body = multipart(&borrow(&parts), "\r\n");
    assert!(body.len() > 25000 && body.len() <= 40000);
    // A slow client holds 30+ KB of the 50 KB budget...
    let credentials =
        base64::engine::general_purpose::STANDARD.encode(format!("{USER}:{PASSWORD}"));
    let mut slow = connect(&server).await;
    slow.write_all(
        format!(
            "POST /inbound/sendgrid HTTP/1.1\r\nHost: x\r\nAuthorization: Basic {credentials}\r\n\
             Content-Type: multipart/form-data; boundary=xYzZY\r\nContent-Length: {}\r\n\r\n",
            body.len()
        )
        .as_bytes(),
    )
    .await
    .unwrap();
    slow.write_all(&body[..100]).await.unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    // ...so a second body that large is refused at once, and stores nothing.
    let refused = post_inbound(&server, body.clone(), Some((USER, PASSWORD))).await;
    assert_eq!(refused.status(), 503);
    let client = server.db.client().await;
    assert_eq!(
        common::count(&client, "SELECT count(*) FROM outpost.inbound_emails").await,
        0
    );
    // When the slow client goes away, its share comes back (as soon as the
    // server has seen the connection close).
    drop(slow);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    let stored = loop {
        let response = post_inbound(&server, body.clone(), Some((USER, PASSWORD))).await;
        if response.status() != 503 || std::time::Instant::now() > deadline {
            break response;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    };
    assert_eq!(stored.status(), 200);
}

#[tokio::test]
async fn nul_bytes_are_stored_replaced_and_noted() {
    let server = start("31457280").await;
    let client = server.db.client().await;
    // Raw mode: the exact bytes are kept, the text has U+FFFD.
    let mime = b"Message-ID: <nul-raw@example.com>\r\nFrom: a@example.com\r\nSubject: bad\0subject\r\n\r\nbody\0with NUL\r\n";
    let parts: Vec<Part<'_>> = vec![
        ("email", None, mime.as_slice()),
        (
            "envelope",
            None,
            br#"{"to":["x\u0000@inbound.test"],"from":"a@example.com"}"#,
        ),
    ];
    let response = post_inbound(&server, multipart(&parts, "\r\n"), Some((USER, PASSWORD))).await;
    assert_eq!(response.status(), 200, "{}", response.text().await.unwrap());
    let row = client
        .query_one(
            "SELECT subject, text_body, raw_bytes, note, envelope->'to'->>0 FROM outpost.inbound_emails",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(row.get::<_, String>(0), "bad\u{FFFD}subject");
    assert!(row.get::<_, String>(1).starts_with("body\u{FFFD}with NUL"));
    assert_eq!(row.get::<_, Vec<u8>>(2), mime.to_vec());
    let note: String = row.get(3);
    assert!(
        note.contains("subject") && note.contains("text") && note.contains("envelope"),
        "{note}"
    );
    assert_eq!(row.get::<_, String>(4), "x\u{FFFD}@inbound.test");

    // Parsed mode: the same, field by field.
    let mut parsed = parsed_mode("<nul-parsed@example.com>", b"sub\0ject", "UTF-8");
    for part in parsed.iter_mut().filter(|p| p.0 == "spam_report") {
        part.2 = b"report\0".to_vec();
    }
    let response = post_inbound(
        &server,
        multipart(&borrow(&parsed), "\r\n"),
        Some((USER, PASSWORD)),
    )
    .await;
    assert_eq!(response.status(), 200);
    let note: String = common::scalar(
        &client,
        "SELECT note FROM outpost.inbound_emails WHERE message_id = '<nul-parsed@example.com>'",
        &[],
    )
    .await;
    assert!(
        note.contains("subject") && note.contains("spam_report"),
        "{note}"
    );

    // A signed event batch with one NUL: every event is stored.
    let body = br#"[{"event":"open","sg_event_id":"nul-1","useragent":"x\u0000y"},{"event":"open","sg_event_id":"nul-2"}]"#;
    let now = chrono::Utc::now().timestamp().to_string();
    let signature = sign(&server.key, &now, body);
    assert_eq!(post_events(&server, body, &now, Some(signature)).await, 200);
    let events = client
        .query(
            "SELECT provider_event_id, payload->>'useragent', note FROM outpost.events ORDER BY provider_event_id",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(events.len(), 2);
    assert_eq!(
        events[0].get::<_, Option<String>>(1).as_deref(),
        Some("x\u{FFFD}y")
    );
    assert!(events[0].get::<_, Option<String>>(2).is_some());
    assert!(events[1].get::<_, Option<String>>(2).is_none());

    // A Twilio callback with a NUL in a parameter.
    let params = [
        ("MessageSid", "SMnul"),
        ("MessageStatus", "delivered"),
        ("To", "+3538612\u{0}34567"),
    ];
    assert_eq!(
        post_twilio(&server, "/webhooks/twilio/status", &params, TWILIO_TOKEN).await,
        200
    );
    let note: Option<String> = common::scalar(
        &client,
        "SELECT note FROM outpost.events WHERE provider = 'twilio'",
        &[],
    )
    .await;
    assert!(note.is_some());
}

#[tokio::test]
async fn a_reused_message_id_with_other_content_is_a_different_mail() {
    let server = start("31457280").await;
    let first = parsed_mode("<reused@example.com>", b"First mail", "UTF-8");
    let second = parsed_mode("<reused@example.com>", b"Another mail", "UTF-8");
    for parts in [&first, &second, &first, &second] {
        let response = post_inbound(
            &server,
            multipart(&borrow(parts), "\r\n"),
            Some((USER, PASSWORD)),
        )
        .await;
        assert_eq!(response.status(), 200);
    }
    let client = server.db.client().await;
    let subjects: Vec<String> = client
        .query(
            "SELECT subject FROM outpost.inbound_emails ORDER BY id",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(subjects, ["First mail", "Another mail"]);
}

#[tokio::test]
async fn events_without_an_event_id_are_stored_once() {
    let server = start("31457280").await;
    let body = serde_json::to_vec(&json!([
        {"email": "a@example.com", "event": "open", "timestamp": 1764000000},
        {"email": "a@example.com", "event": "click", "url": "https://x.test", "timestamp": 1764000001},
    ]))
    .unwrap();
    let now = chrono::Utc::now().timestamp().to_string();
    let signature = sign(&server.key, &now, &body);
    for _ in 0..3 {
        assert_eq!(
            post_events(&server, &body, &now, Some(signature.clone())).await,
            200
        );
    }
    let client = server.db.client().await;
    assert_eq!(
        common::count(&client, "SELECT count(*) FROM outpost.events").await,
        2
    );
}

#[tokio::test]
async fn info_logs_carry_ids_and_counts_but_no_addresses() {
    let db = TestDb::new().await;
    let client = db.client().await;
    client
        .execute(
            "INSERT INTO outpost.suppressions (family, address, reason) VALUES ('email', 'gone@example.com', 'bounced')",
            &[],
        )
        .await
        .unwrap();
    let suppressed = db.email(&client, "Gone <gone@example.com>").await;
    let invalid = db.email(&client, "not an address@example.com").await;
    let mut cc = NewMessage::new(Kind::Email);
    cc.to_address = Some("ok@example.com".into());
    cc.subject = Some("s".into());
    cc.body = Some("b".into());
    cc.options = json!({"cc": "Bad Cc <+353861234567 cc@example.com>"});
    let cc = enqueue(&client, &cc).await.unwrap();
    let port = common::free_port();
    let env: Vec<(String, String)> = [
        ("OUTPOST__LOG__LEVEL", "info"),
        ("OUTPOST__HTTP__LISTEN", &format!("127.0.0.1:{port}")),
        ("OUTPOST__WEBHOOKS__INBOUND_USERNAME", USER),
        ("OUTPOST__WEBHOOKS__INBOUND_PASSWORD", PASSWORD),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("outpost.log");
    let daemon = common::daemon::start_logged(&db.url, &env, &log);
    common::daemon::settled(&client, &[suppressed.0, invalid.0, cc.0]).await;
    let url = format!("http://127.0.0.1:{port}");
    let mut answered = false;
    for _ in 0..100 {
        if reqwest::get(format!("{url}/healthz")).await.is_ok() {
            answered = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(answered);
    let parts = parsed_mode("<logs@example.com>", b"Hello", "UTF-8");
    let response = reqwest::Client::new()
        .post(format!("{url}/inbound/sendgrid"))
        .header("content-type", "multipart/form-data; boundary=xYzZY")
        .basic_auth(USER, Some(PASSWORD))
        .body(multipart(&borrow(&parts), "\r\n"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    drop(daemon);
    assert_eq!(common::row(&client, suppressed).await.0, "suppressed");
    assert_eq!(common::row(&client, invalid).await.0, "failed");
    assert_eq!(common::row(&client, cc).await.0, "failed");
    let logs = std::fs::read_to_string(&log).unwrap();
    assert!(logs.contains("inbound e-mail stored"), "{logs}");
    assert!(logs.matches("attempt failed").count() >= 3, "{logs}");
    for address in [
        "gone@example.com",
        "address@example.com",
        "cc@example.com",
        "353861234567",
        "ann@example.com",
        "reports@inbound",
    ] {
        assert!(
            !logs.contains(address),
            "{address} appears in the INFO logs:\n{logs}"
        );
    }
}

#[tokio::test]
async fn events_that_arrive_before_the_outcome_are_applied_with_it() {
    let server = start("31457280").await;
    let client = server.db.client().await;
    let mut sms = NewMessage::new(Kind::Sms);
    sms.to_address = Some("+353861234567".into());
    let sms = enqueue(&client, &sms).await.unwrap();
    let mut email = NewMessage::new(Kind::Email);
    email.to_address = Some("carol@example.com".into());
    email.subject = Some("s".into());
    email.body = Some("b".into());
    let email = enqueue(&client, &email).await.unwrap();
    let recorder = Recorder::accepting("rec");
    let config = server.db.config(&[]);
    let d = server.db.dispatcher(
        &config,
        Channels::with_default_for_all(recorder as Arc<dyn Channel>),
        "w",
    );
    let claimed = d.claim(10, &Kind::ALL).await.unwrap();
    assert_eq!(claimed.len(), 2);

    // The provider reports on both while their sends are still in flight.
    let path = format!("/webhooks/twilio/status?outpost_id={}", sms.0);
    let delivered = [("MessageSid", "SMearly"), ("MessageStatus", "delivered")];
    assert_eq!(
        post_twilio(&server, &path, &delivered, TWILIO_TOKEN).await,
        200
    );
    let body = serde_json::to_vec(&json!([
        {"email": "carol@example.com", "event": "bounce", "sg_event_id": "early-1", "outpost_id": email.to_string(), "reason": "550 5.1.1 no such user", "timestamp": 1764000000},
    ]))
    .unwrap();
    let now = chrono::Utc::now().timestamp().to_string();
    let signature = sign(&server.key, &now, &body);
    assert_eq!(
        post_events(&server, &body, &now, Some(signature)).await,
        200
    );
    assert_eq!(row(&client, sms).await.0, "sending");
    assert_eq!(row(&client, email).await.0, "sending");

    // The outcomes arrive: the events decide.
    let outcomes =
        futures_util::future::join_all(claimed.into_iter().map(|m| d.deliver(m, None))).await;
    assert_eq!(d.record(&outcomes).await.unwrap().applied, 2);
    assert_eq!(row(&client, sms).await.0, "delivered");
    let (status, _, error) = row(&client, email).await;
    assert_eq!(status, "bounced");
    assert!(error.unwrap().contains("550 5.1.1 no such user"));

    // A retried callback is de-duplicated and changes nothing.
    assert_eq!(
        post_twilio(&server, &path, &delivered, TWILIO_TOKEN).await,
        200
    );
    assert_eq!(row(&client, sms).await.0, "delivered");
    assert_eq!(
        common::count(
            &client,
            "SELECT count(*) FROM outpost.messages WHERE pending_status IS NOT NULL"
        )
        .await,
        0
    );
}
