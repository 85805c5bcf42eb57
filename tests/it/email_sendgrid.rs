//! SendGrid v3 Mail Send over HTTP on 127.0.0.1: a fake for the answers the
//! spec does not describe (X-Message-Id, 429, error bodies), and Prism
//! validating our requests against the official OpenAPI spec.

use crate::common;

use std::path::Path;

use base64::Engine as _;
use common::{TestDb, row};
use outpost::enqueue::{NewMessage, enqueue};
use outpost::message::{Kind, MessageId};
use serde_json::json;
use wiremock::matchers::{header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

const KEY: &str = "SG.test-key-123";
const UNSUBSCRIBE_SECRET: &str = "unsubscribe-secret-of-at-least-32-chars";

fn full_message() -> NewMessage {
    let mut m = NewMessage::new(Kind::Email);
    m.to_address = Some("Ann <ann@example.com>".into());
    m.template = Some("welcome".into());
    m.locale = Some("de".into());
    m.context = json!({"name": "Ann", "site": "MEG", "messages": 1, "url": "https://meg.test"});
    m.options = json!({
        "from": "MEG <noreply@meg.test>",
        "cc": ["cc@example.com"],
        "bcc": ["audit@example.com"],
        "reply_to": "help@meg.test",
        "categories": ["welcome", "onboarding"],
        "custom_args": {"tenant": "hospital-7", "campaign": 42},
        "attachments": [{
            "filename": "terms.pdf",
            "type": "application/pdf",
            "content": base64::engine::general_purpose::STANDARD.encode(b"%PDF-1.4 fake"),
        }],
    });
    m
}

async fn deliver(db: &TestDb, base_url: &str, message: &NewMessage) -> MessageId {
    let client = db.client().await;
    let id = enqueue(&client, message).await.unwrap();
    let config = db.config(&[
        ("OUTPOST__EMAIL__BACKEND", "sendgrid"),
        ("OUTPOST__EMAIL__SENDGRID__BASE_URL", base_url),
        ("OUTPOST__EMAIL__SENDGRID__API_KEY", KEY),
        ("OUTPOST__EMAIL__FROM", "Outpost <noreply@meg.test>"),
        (
            "OUTPOST__UNSUBSCRIBE__PUBLIC_URL",
            "https://notify.meg.test",
        ),
        ("OUTPOST__UNSUBSCRIBE__SECRET", UNSUBSCRIBE_SECRET),
    ]);
    let (channels, _) = db.channels(&config);
    let d = db.dispatcher(&config, channels, "sg-test");
    assert_eq!(d.run_once().await.unwrap(), 1);
    id
}

#[tokio::test]
async fn a_202_stores_the_x_message_id_and_the_request_is_complete() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v3/mail/send"))
        .and(header("authorization", format!("Bearer {KEY}").as_str()))
        .respond_with(
            ResponseTemplate::new(202)
                .insert_header("X-Message-Id", "14c5d75ce93.dfd.64b469.filter0001"),
        )
        .expect(1)
        .mount(&server)
        .await;
    let db = TestDb::new().await;
    let id = deliver(&db, &server.uri(), &full_message()).await;
    let client = db.client().await;
    assert_eq!(row(&client, id).await, ("sent".into(), 1, None));
    let pmid: Option<String> = common::scalar(
        &client,
        "SELECT provider_message_id FROM outpost.messages WHERE id = $1",
        &[&id.0],
    )
    .await;
    assert_eq!(pmid.as_deref(), Some("14c5d75ce93.dfd.64b469.filter0001"));

    let requests = server.received_requests().await.unwrap();
    let body: serde_json::Value = serde_json::from_slice(&requests[0].body).unwrap();
    assert_eq!(
        body["from"],
        json!({"email": "noreply@meg.test", "name": "MEG"})
    );
    assert_eq!(body["reply_to"], json!({"email": "help@meg.test"}));
    assert_eq!(body["subject"], "Willkommen bei MEG, Ann");
    let content = body["content"].as_array().unwrap();
    assert_eq!(
        content[0]["type"], "text/plain",
        "text/plain must come first"
    );
    assert_eq!(content[1]["type"], "text/html");
    assert!(
        content[0]["value"]
            .as_str()
            .unwrap()
            .contains("Sie haben 1 neue Nachricht.")
    );
    let p = &body["personalizations"][0];
    assert_eq!(
        p["to"],
        json!([{"email": "ann@example.com", "name": "Ann"}])
    );
    assert_eq!(p["cc"], json!([{"email": "cc@example.com"}]));
    assert_eq!(p["bcc"], json!([{"email": "audit@example.com"}]));
    assert_eq!(
        p["custom_args"],
        json!({"outpost_id": id.to_string(), "tenant": "hospital-7", "campaign": "42"})
    );
    assert!(
        body.get("custom_args").is_none(),
        "message-level custom_args is a string in the spec"
    );
    assert_eq!(body["categories"], json!(["welcome", "onboarding"]));
    assert_eq!(
        body["headers"]["Message-ID"],
        format!("<outpost.{id}@meg.test>")
    );
    assert_eq!(body["attachments"][0]["filename"], "terms.pdf");
    assert_eq!(body["attachments"][0]["disposition"], "attachment");
    assert_eq!(
        body["attachments"][0]["content"],
        base64::engine::general_purpose::STANDARD.encode(b"%PDF-1.4 fake")
    );
}

/// An API key that looks like a number is sent as written, not as `1000.0`.
#[tokio::test]
async fn a_numeric_looking_api_key_is_sent_as_written() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v3/mail/send"))
        .and(header("authorization", "Bearer 1e3"))
        .respond_with(ResponseTemplate::new(202).insert_header("X-Message-Id", "m-1"))
        .expect(1)
        .mount(&server)
        .await;
    let db = TestDb::new().await;
    let client = db.client().await;
    let id = db.email(&client, "ann@example.com").await;
    let config = db.config(&[
        ("OUTPOST__EMAIL__BACKEND", "sendgrid"),
        ("OUTPOST__EMAIL__SENDGRID__BASE_URL", &server.uri()),
        ("SENDGRID_API_KEY", "1e3"),
    ]);
    let (channels, _) = db.channels(&config);
    db.dispatcher(&config, channels, "sg")
        .run_once()
        .await
        .unwrap();
    assert_eq!(row(&client, id).await, ("sent".into(), 1, None));
}

/// Django's features in the SendGrid request: several Reply-To addresses
/// (`reply_to_list`), an inline part known by its Content-ID, and a verbatim
/// text-only body (one content entry).
#[tokio::test]
async fn inline_parts_reply_to_lists_and_verbatim_bodies_reach_sendgrid() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v3/mail/send"))
        .respond_with(ResponseTemplate::new(202).insert_header("X-Message-Id", "abc"))
        .mount(&server)
        .await;
    let db = TestDb::new().await;
    let mut m = NewMessage::new(Kind::Email);
    m.to_address = Some("ann@example.com".into());
    m.subject = Some("Report".into());
    m.body = Some("Just text.".into());
    m.options = json!({
        "verbatim": true,
        "reply_to": ["a@meg.test", "b@meg.test"],
        "attachments": [{"content": base64::engine::general_purpose::STANDARD.encode(b"png"),
            "type": "image/png", "disposition": "inline", "content_id": "logo"}],
    });
    deliver(&db, &server.uri(), &m).await;
    let requests = server.received_requests().await.unwrap();
    let body: serde_json::Value = serde_json::from_slice(&requests[0].body).unwrap();
    assert_eq!(
        body["reply_to_list"],
        json!([{"email": "a@meg.test"}, {"email": "b@meg.test"}])
    );
    assert!(body.get("reply_to").is_none());
    assert_eq!(
        body["content"],
        json!([{"type": "text/plain", "value": "Just text."}])
    );
    let a = &body["attachments"][0];
    assert_eq!(a["disposition"], "inline");
    assert_eq!(a["content_id"], "logo");
    assert_eq!(a["filename"], "logo");
}

#[tokio::test]
async fn a_429_waits_for_retry_after() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(
            ResponseTemplate::new(429)
                .insert_header("Retry-After", "120")
                .set_body_json(
                    json!({"errors": [{"field": null, "message": "too many requests"}]}),
                ),
        )
        .mount(&server)
        .await;
    let db = TestDb::new().await;
    let id = deliver(&db, &server.uri(), &full_message()).await;
    let client = db.client().await;
    let r = client
        .query_one(
            "SELECT status, last_error, extract(epoch FROM run_at - now())::float8 FROM outpost.messages WHERE id = $1",
            &[&id.0],
        )
        .await
        .unwrap();
    assert_eq!(r.get::<_, String>(0), "queued");
    assert_eq!(
        r.get::<_, Option<String>>(1).as_deref(),
        Some("SendGrid 429: too many requests")
    );
    let wait: f64 = r.get(2);
    assert!(
        (110.0..=121.0).contains(&wait),
        "Retry-After honoured: {wait}"
    );
}

#[tokio::test]
async fn client_errors_fail_with_sendgrids_messages_and_server_errors_retry() {
    let db = TestDb::new().await;
    let cases = [
        (
            400,
            json!({"errors": [{"message": "The from address does not match a verified Sender Identity.", "field": "from"}]}),
            "failed",
            "SendGrid 400: The from address does not match a verified Sender Identity. (field from)",
        ),
        (
            401,
            json!({"errors": [{"message": "authorization required"}]}),
            "failed",
            "SendGrid 401: authorization required",
        ),
        (
            413,
            json!({"errors": [{"message": "content too large"}]}),
            "failed",
            "SendGrid 413: content too large",
        ),
        (
            503,
            json!({"errors": [{"message": "service unavailable"}]}),
            "queued",
            "SendGrid 503: service unavailable",
        ),
    ];
    for (status, body, expected_status, expected_error) in cases {
        let server = MockServer::start().await;
        Mock::given(method("POST"))
            .respond_with(ResponseTemplate::new(status).set_body_json(body))
            .mount(&server)
            .await;
        let id = deliver(&db, &server.uri(), &full_message()).await;
        let (s, _, error) = row(&db.client().await, id).await;
        assert_eq!(
            (s.as_str(), error.as_deref()),
            (expected_status, Some(expected_error))
        );
    }
}

#[tokio::test]
async fn the_api_key_never_appears_in_errors() {
    // Nothing listens on this port.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let db = TestDb::new().await;
    let id = deliver(&db, &format!("http://127.0.0.1:{port}"), &full_message()).await;
    let (status, _, error) = row(&db.client().await, id).await;
    assert_eq!(status, "queued");
    let error = error.unwrap();
    assert!(error.starts_with("SendGrid unreachable"), "{error}");
    assert!(!error.contains(KEY));
}

#[tokio::test]
async fn requests_satisfy_the_official_openapi_spec() {
    let spec =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/specs/sendgrid-tsg_mail_v3.json");
    if !spec.exists() {
        eprintln!(
            "SKIPPED: {} is absent, so the SendGrid contract test cannot run",
            spec.display()
        );
        return;
    }
    let (_prism, url) = common::prism::start(&spec);
    outpost::tls::install_crypto_provider();
    let http = reqwest::Client::new();
    // Prism does validate: a request without `from` is refused.
    let refused = http
        .post(format!("{url}/v3/mail/send"))
        .bearer_auth(KEY)
        .json(&json!({"personalizations": [{"to": [{"email": "a@example.com"}]}]}))
        .send()
        .await
        .unwrap();
    assert!(refused.status().is_client_error(), "{}", refused.status());
    assert!(refused.headers().contains_key("sl-violations"));

    let db = TestDb::new().await;
    let mut simple = NewMessage::new(Kind::Email);
    simple.to_address = Some("bob@example.com".into());
    simple.subject = Some("Report ready".into());
    simple.body = Some("Your report is ready.".into());
    simple.options = json!({"links": [{"label": "Open", "url": "https://meg.test/r/1"}]});
    // What the Django backend sends: verbatim text only, several Reply-To
    // addresses, an inline part known by its Content-ID.
    let mut verbatim = NewMessage::new(Kind::Email);
    verbatim.to_address = Some("bob@example.com".into());
    verbatim.subject = Some("Django".into());
    verbatim.body = Some("Text only.".into());
    verbatim.options = json!({
        "verbatim": true,
        "reply_to": ["a@meg.test", "b@meg.test"],
        "attachments": [{"content": base64::engine::general_purpose::STANDARD.encode(b"png"),
            "type": "image/png", "disposition": "inline", "content_id": "logo"}],
    });
    let mut categorised = full_message();
    categorised.category = Some("newsletter".into());
    for message in [full_message(), simple, verbatim, categorised] {
        let id = deliver(&db, &url, &message).await;
        let (status, _, error) = row(&db.client().await, id).await;
        assert_eq!(status, "sent", "Prism rejected the request: {error:?}");
    }
}

#[tokio::test]
async fn an_error_body_echoing_the_api_key_is_stored_without_it() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v3/mail/send"))
        .respond_with(ResponseTemplate::new(401).set_body_string(format!(
            "unauthorized request: Authorization: Bearer {KEY} (key {KEY} revoked)"
        )))
        .mount(&server)
        .await;
    let db = TestDb::new().await;
    let id = deliver(&db, &server.uri(), &full_message()).await;
    let (status, _, error) = row(&db.client().await, id).await;
    assert_eq!(status, "failed");
    let error = error.unwrap();
    assert!(!error.contains(KEY), "{error}");
    assert!(
        error.contains("Authorization: Bearer [redacted] (key [redacted] revoked)"),
        "{error}"
    );
}

#[tokio::test]
async fn an_email_with_a_category_carries_one_click_unsubscribe_headers() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v3/mail/send"))
        .respond_with(ResponseTemplate::new(202))
        .expect(2)
        .mount(&server)
        .await;
    let db = TestDb::new().await;
    let mut categorised = full_message();
    categorised.to_address = Some("ann@example.com".into());
    categorised.category = Some("newsletter".into());
    deliver(&db, &server.uri(), &categorised).await;
    deliver(&db, &server.uri(), &full_message()).await;
    let requests = server.received_requests().await.unwrap();
    let headers: Vec<serde_json::Value> = requests
        .iter()
        .map(|r| r.body_json::<serde_json::Value>().unwrap()["headers"].clone())
        .collect();
    let list = headers[0]["List-Unsubscribe"].as_str().unwrap();
    let url = list
        .strip_prefix('<')
        .and_then(|l| l.strip_suffix('>'))
        .unwrap();
    assert!(
        url.starts_with("https://notify.meg.test/unsubscribe/v1."),
        "{list}"
    );
    assert_eq!(
        headers[0]["List-Unsubscribe-Post"],
        "List-Unsubscribe=One-Click"
    );
    // The token names the address (no user), the category and the kind.
    let config = db.config(&[
        (
            "OUTPOST__UNSUBSCRIBE__PUBLIC_URL",
            "https://notify.meg.test",
        ),
        ("OUTPOST__UNSUBSCRIBE__SECRET", UNSUBSCRIBE_SECRET),
    ]);
    let token = url.rsplit('/').next().unwrap();
    let target = config.unsubscribe.unwrap().verify(token).unwrap();
    assert_eq!(
        target.who,
        outpost::unsubscribe::Who::Address("ann@example.com".into())
    );
    assert_eq!(target.category, "newsletter");
    // A transactional e-mail (no category) has neither header.
    assert!(
        headers[1].get("List-Unsubscribe").is_none(),
        "{}",
        headers[1]
    );
    assert!(headers[1].get("List-Unsubscribe-Post").is_none());
}
