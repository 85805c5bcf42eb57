//! SMS and voice calls through Twilio's API on 127.0.0.1: a fake for the 201
//! body, error codes and 429s, and Prism checking requests against the
//! official OpenAPI spec.

use crate::common;

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::{TestDb, row};
use outpost::message::MessageId;
use serde_json::json;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

pub(crate) const SID: &str = "AC00000000000000000000000000000001";
pub(crate) const TOKEN: &str = "twilio-secret-token";

pub(crate) fn created(sid: &str) -> ResponseTemplate {
    ResponseTemplate::new(201).set_body_json(json!({
        "sid": sid, "status": "queued", "error_code": null, "error_message": null, "num_segments": "1"
    }))
}

async fn fake(response: ResponseTemplate) -> MockServer {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(response)
        .mount(&server)
        .await;
    server
}

pub(crate) fn env(base_url: &str, extra: &[(&str, &str)]) -> Vec<(String, String)> {
    let mut env: Vec<(String, String)> = [
        ("OUTPOST__SMS__BACKEND", "twilio"),
        ("OUTPOST__VOICE__BACKEND", "twilio"),
        ("TWILIO_ACCOUNT_SID", SID),
        ("TWILIO_AUTH_TOKEN", TOKEN),
        ("OUTPOST__TWILIO__BASE_URL", base_url),
        ("OUTPOST__TWILIO__PUBLIC_URL", "https://notify.example.com"),
        ("OUTPOST__TWILIO__RATE_LIMIT", "0"),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    env.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    env
}

async fn with_users(db: &TestDb) -> tokio_postgres::Client {
    let client = db.client().await;
    client
        .batch_execute(
            "INSERT INTO outpost.recipients (user_id, phone, locale) VALUES
               ('ana', '+40721234567', 'ro'), ('jo', '+353861234567', 'en'),
               ('gabor', '+36201234567', 'hu'), ('nophone', NULL, 'en')",
        )
        .await
        .unwrap();
    client
}

async fn run(db: &TestDb, env: Vec<(String, String)>, sql: &str) -> MessageId {
    let client = db.client().await;
    let id: i64 = common::scalar(&client, sql, &[]).await;
    let config = db.config_env(env);
    let (channels, _) = db.channels(&config);
    db.dispatcher(&config, channels, "tw")
        .run_once()
        .await
        .unwrap();
    MessageId(id)
}

/// Runs `sql` (enqueueing one message) through the fake and checks it was sent.
async fn expect_sent(db: &TestDb, server: &MockServer, sql: &str) {
    let id = run(db, env(&server.uri(), &[]), sql).await;
    let client = db.client().await;
    assert_eq!(row(&client, id).await.0, "sent", "{sql}");
}

fn form(request: &Request) -> Vec<(String, String)> {
    serde_urlencoded::from_bytes(&request.body).unwrap()
}

fn field<'a>(form: &'a [(String, String)], name: &str) -> Option<&'a str> {
    form.iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

#[tokio::test]
async fn a_predefined_sms_goes_out_in_the_users_language() {
    let server = fake(created("SM0123456789abcdef0123456789abcdef")).await;
    let db = TestDb::new().await;
    let client = with_users(&db).await;
    let id = run(
        &db,
        env(&server.uri(), &[]),
        "SELECT outpost.send_phone_sms_predefined('ana', 'Salonul 4')",
    )
    .await;
    assert_eq!(row(&client, id).await, ("sent".into(), 1, None));
    let r = client
        .query_one(
            "SELECT provider_message_id, segments FROM outpost.messages WHERE id = $1",
            &[&id.0],
        )
        .await
        .unwrap();
    assert_eq!(
        r.get::<_, Option<String>>(0).as_deref(),
        Some("SM0123456789abcdef0123456789abcdef")
    );
    // Romanian diacritics force UCS-2: 92 characters, two segments.
    assert_eq!(r.get::<_, Option<i32>>(1), Some(2));

    let requests = server.received_requests().await.unwrap();
    assert_eq!(requests.len(), 1);
    let request = &requests[0];
    assert_eq!(
        request.url.path(),
        format!("/2010-04-01/Accounts/{SID}/Messages.json")
    );
    let auth = request
        .headers
        .get("authorization")
        .unwrap()
        .to_str()
        .unwrap();
    use base64::Engine as _;
    assert_eq!(
        auth,
        format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(format!("{SID}:{TOKEN}"))
        )
    );
    let form = form(request);
    assert_eq!(field(&form, "To"), Some("+40721234567"));
    assert_eq!(field(&form, "From"), Some("+15005550006"));
    assert_eq!(
        field(&form, "Body"),
        Some(
            "Aveți o notificare nouă în MEG. Vă rugăm să vă autentificați pentru a o vedea. Salonul 4"
        )
    );
    assert_eq!(
        field(&form, "StatusCallback"),
        Some(
            format!(
                "https://notify.example.com/webhooks/twilio/status?outpost_id={}",
                id.0
            )
            .as_str()
        )
    );
}

/// The sender number, account SID and token reach Twilio exactly as written
/// even when they look like numbers (`+1…` used to lose its plus).
#[tokio::test]
async fn numeric_looking_settings_reach_twilio_as_written() {
    use base64::Engine as _;
    let server = fake(created("SM0123456789abcdef0123456789abcdef")).await;
    let db = TestDb::new().await;
    let client = with_users(&db).await;
    for (from, sid, token) in [
        ("+15005550009", "00123", "0123"),
        ("+12025550123", "1e3", "007"),
    ] {
        let mut env = env(&server.uri(), &[("OUTPOST__TWILIO__FROM", from)]);
        env.retain(|(k, _)| !k.starts_with("TWILIO_"));
        env.push(("TWILIO_ACCOUNT_SID".into(), sid.into()));
        env.push(("TWILIO_AUTH_TOKEN".into(), token.into()));
        let id = run(&db, env, "SELECT outpost.send_phone_sms('jo', 'Hi')").await;
        assert_eq!(row(&client, id).await.0, "sent");
        let requests = server.received_requests().await.unwrap();
        let request = requests.last().unwrap();
        assert_eq!(
            request.url.path(),
            format!("/2010-04-01/Accounts/{sid}/Messages.json")
        );
        assert_eq!(field(&form(request), "From"), Some(from));
        let auth = request.headers.get("authorization").unwrap();
        let expected = base64::engine::general_purpose::STANDARD.encode(format!("{sid}:{token}"));
        assert_eq!(auth.to_str().unwrap(), format!("Basic {expected}"));
    }
}

/// The console backend checks, normalises and counts segments exactly as
/// Twilio would: a bad number fails in development too.
#[tokio::test]
async fn the_console_backend_validates_like_twilio() {
    let db = TestDb::new().await;
    let client = with_users(&db).await;
    let one = |sql: &'static str| {
        let client = &client;
        async move { MessageId(common::scalar(client, sql, &[]).await) }
    };
    let bad = one("SELECT outpost.send_sms('Hi', to_address => 'not-a-number')").await;
    let spaced = one("SELECT outpost.send_sms('Hi', to_address => '+353 86 123 4567')").await;
    let ro = one("SELECT outpost.send_phone_sms_predefined('ana', 'Salonul 4')").await;
    let call = one("SELECT outpost.make_call('Your audit is due today', to_user => 'jo')").await;
    let config = db.config(&[("OUTPOST__TWILIO__MAX_SEGMENTS", "5")]);
    assert_eq!(
        config.backends[&outpost::message::Kind::Sms],
        outpost::config::Backend::Stdout
    );
    let (channels, sink) = db.channels(&config);
    db.dispatcher(&config, channels, "dev")
        .drain()
        .await
        .unwrap();

    let (status, _, error) = row(&client, bad).await;
    assert_eq!(status, "failed");
    assert!(error.unwrap().contains("invalid recipient"));
    for id in [spaced, ro, call] {
        assert_eq!(row(&client, id).await, ("sent".into(), 1, None));
    }
    let segments = |id: MessageId| {
        let client = &client;
        async move {
            client
                .query_one(
                    "SELECT segments FROM outpost.messages WHERE id = $1",
                    &[&id.0],
                )
                .await
                .unwrap()
                .get::<_, Option<i32>>(0)
        }
    };
    assert_eq!(segments(spaced).await, Some(1));
    assert_eq!(segments(ro).await, Some(2));
    let printed = String::from_utf8(sink.lock().unwrap().clone()).unwrap();
    assert!(
        printed.contains("To: +353861234567\nFrom: +15005550006\n"),
        "{printed}"
    );
    assert!(printed.contains("Segments: 2\n"), "{printed}");
    assert!(
        printed.contains("<Say language=\"en-US\" voice=\"Polly.Joanna\">"),
        "{printed}"
    );
    assert!(!printed.contains("not-a-number"), "{printed}");
}

#[tokio::test]
async fn the_sql_helpers_mirror_the_original_tasks() {
    let server = fake(created("SMaaaa")).await;
    let db = TestDb::new().await;
    with_users(&db).await;
    expect_sent(
        &db,
        &server,
        "SELECT outpost.send_sms_to_number('+353 86 123 4568', 'de', 'Your audit is due today.', '+15005550007')",
    )
    .await;
    expect_sent(
        &db,
        &server,
        "SELECT outpost.send_phone_sms('jo', 'Free text & more')",
    )
    .await;
    let requests = server.received_requests().await.unwrap();
    let first = form(&requests[0]);
    assert_eq!(field(&first, "To"), Some("+353861234568"));
    assert_eq!(field(&first, "From"), Some("+15005550007"));
    assert_eq!(field(&first, "Body"), Some("Ihr Audit ist heute fällig."));
    let second = form(&requests[1]);
    assert_eq!(field(&second, "To"), Some("+353861234567"));
    assert_eq!(field(&second, "Body"), Some("Free text & more"));
}

#[tokio::test]
async fn calls_speak_romanian_with_polly_carmen_and_escape_the_text() {
    let server = fake(created("CA0123")).await;
    let db = TestDb::new().await;
    with_users(&db).await;
    expect_sent(&db, &server, "SELECT outpost.make_phone_call('ana')").await;
    expect_sent(&db, &server, "SELECT outpost.make_call('Tom & <Jerry> \"quoted\"', to_address => '+353861234567', locale => 'en')").await;
    let requests = server.received_requests().await.unwrap();
    assert_eq!(
        requests[0].url.path(),
        format!("/2010-04-01/Accounts/{SID}/Calls.json")
    );
    let twiml = form(&requests[0])
        .into_iter()
        .find(|(k, _)| k == "Twiml")
        .unwrap()
        .1;
    assert_eq!(
        twiml,
        "<Response><Say language=\"ro-RO\" voice=\"Polly.Carmen\">Bună ziua. Acesta este un apel automat de la MEG. Aveți o notificare nouă. Vă rugăm să vă autentificați pentru a o vedea.</Say></Response>"
    );
    let twiml = form(&requests[1])
        .into_iter()
        .find(|(k, _)| k == "Twiml")
        .unwrap()
        .1;
    assert_eq!(
        twiml,
        "<Response><Say language=\"en-US\" voice=\"Polly.Joanna\">Tom &amp; &lt;Jerry&gt; &quot;quoted&quot;</Say></Response>"
    );
}

#[tokio::test]
async fn an_unsupported_voice_language_fails_unless_fallback_is_allowed() {
    let server = fake(created("CA1")).await;
    let db = TestDb::new().await;
    let client = with_users(&db).await;
    let id = run(
        &db,
        env(&server.uri(), &[]),
        "SELECT outpost.make_call('Szia', to_user => 'gabor')",
    )
    .await;
    assert_eq!(
        row(&client, id).await,
        (
            "failed".into(),
            1,
            Some("voice language hu not supported".into())
        )
    );
    assert!(
        server.received_requests().await.unwrap().is_empty(),
        "no call was made"
    );

    let allowed = env(
        &server.uri(),
        &[("OUTPOST__TWILIO__VOICE_FALLBACK", "true")],
    );
    let id = run(
        &db,
        allowed,
        "SELECT outpost.make_call('Szia', to_user => 'gabor')",
    )
    .await;
    assert_eq!(row(&client, id).await.0, "sent");
    let note: Option<String> = common::scalar(
        &client,
        "SELECT note FROM outpost.attempts WHERE message_id = $1",
        &[&id.0],
    )
    .await;
    assert!(
        note.unwrap()
            .contains("voice language hu not supported; read in en-US")
    );
}

#[tokio::test]
async fn bad_numbers_and_long_texts_fail_before_any_request() {
    let server = fake(created("SM1")).await;
    let db = TestDb::new().await;
    let client = with_users(&db).await;
    let cases = [
        (
            "SELECT outpost.send_sms('hi', to_address => '086 123 4567')",
            "not an E.164 number",
        ),
        (
            "SELECT outpost.send_sms('hi', to_address => '+11234567890')",
            "not a valid phone number",
        ),
        (
            "SELECT outpost.send_phone_sms('nophone', 'hi')",
            "has no phone number",
        ),
        (
            "SELECT outpost.send_sms(repeat('x', 200), to_address => '+353861234567')",
            "2 segments",
        ),
    ];
    let limits = env(&server.uri(), &[("OUTPOST__TWILIO__MAX_SEGMENTS", "1")]);
    for (sql, expected) in cases {
        let id = run(&db, limits.clone(), sql).await;
        let (status, _, error) = row(&client, id).await;
        assert_eq!(status, "failed", "{sql}");
        assert!(
            error.as_deref().unwrap_or("").contains(expected),
            "{sql}: {error:?}"
        );
    }
    assert!(server.received_requests().await.unwrap().is_empty());
    // With a default region, national numbers are accepted and normalised.
    let id = run(
        &db,
        env(&server.uri(), &[("OUTPOST__TWILIO__DEFAULT_REGION", "IE")]),
        "SELECT outpost.send_sms('hi', to_address => '086 123 4567')",
    )
    .await;
    assert_eq!(row(&client, id).await.0, "sent");
    assert_eq!(
        field(&form(&server.received_requests().await.unwrap()[0]), "To"),
        Some("+353861234567")
    );
}

#[tokio::test]
async fn twilio_error_codes_are_classified() {
    let db = TestDb::new().await;
    let client = with_users(&db).await;
    let error = |status: u16, code: i64, message: &str| {
        ResponseTemplate::new(status).set_body_json(json!({
            "code": code, "message": message, "more_info": format!("https://www.twilio.com/docs/errors/{code}"), "status": status
        }))
    };
    let cases = [
        (
            error(
                400,
                21211,
                "The 'To' number +15005550001 is not a valid phone number.",
            ),
            "failed",
            "Twilio error 21211: The 'To' number +15005550001 is not a valid phone number.",
        ),
        (
            error(
                400,
                21612,
                "The 'To' phone number is not currently reachable.",
            ),
            "failed",
            "Twilio error 21612",
        ),
        (
            error(400, 21610, "Attempt to send to unsubscribed recipient"),
            "failed",
            "Twilio error 21610",
        ),
        (
            error(429, 20429, "Too Many Requests").insert_header("Retry-After", "30"),
            "queued",
            "Twilio error 20429",
        ),
        (
            error(503, 20500, "Service unavailable"),
            "queued",
            "Twilio error 20500",
        ),
        (ResponseTemplate::new(502), "queued", "Twilio 502"),
    ];
    for (response, expected_status, expected_error) in cases {
        let server = fake(response).await;
        let id = run(
            &db,
            env(&server.uri(), &[]),
            "SELECT outpost.send_sms('hi', to_address => '+353861234567')",
        )
        .await;
        let (status, _, error) = row(&client, id).await;
        assert_eq!(status, expected_status, "{expected_error}");
        assert!(
            error.as_deref().unwrap().contains(expected_error),
            "{error:?}"
        );
    }
    let wait: f64 = common::scalar(&client, "SELECT extract(epoch FROM run_at - now())::float8 FROM outpost.messages WHERE last_error LIKE '%20429%'", &[]).await;
    assert!(
        (25.0..=31.0).contains(&wait),
        "Retry-After honoured: {wait}"
    );
}

/// Answers 201 and notes when each request arrived.
pub(crate) struct Clocked(pub(crate) Arc<Mutex<Vec<Instant>>>);

impl Respond for Clocked {
    fn respond(&self, _: &Request) -> ResponseTemplate {
        self.0.lock().unwrap().push(Instant::now());
        created("SMrate")
    }
}

#[tokio::test]
async fn the_account_rate_limit_is_respected() {
    let arrivals = Arc::new(Mutex::new(Vec::new()));
    let server = MockServer::start().await;
    Mock::given(path(format!("/2010-04-01/Accounts/{SID}/Messages.json")))
        .respond_with(Clocked(arrivals.clone()))
        .mount(&server)
        .await;
    let db = TestDb::new().await;
    let client = with_users(&db).await;
    client
        .execute(
            "INSERT INTO outpost.messages (kind, to_address, body) SELECT 'sms', '+353861234567', 'n' || g FROM generate_series(1, 9) g",
            &[],
        )
        .await
        .unwrap();
    let config = db.config_env(env(&server.uri(), &[("OUTPOST__TWILIO__RATE_LIMIT", "4")]));
    let (channels, _) = db.channels(&config);
    db.dispatcher(&config, channels, "tw")
        .drain()
        .await
        .unwrap();
    let times = arrivals.lock().unwrap().clone();
    assert_eq!(times.len(), 9);
    // A burst of 4, then one every 250 ms: the 9th no sooner than 1.25 s after the first.
    let spread = *times.last().unwrap() - times[0];
    assert!(
        spread >= Duration::from_millis(1150),
        "requests were not paced: {spread:?}"
    );
}

#[tokio::test]
async fn requests_satisfy_the_official_openapi_spec() {
    let spec = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/specs/twilio_api_v2010.json");
    if !spec.exists() {
        eprintln!(
            "SKIPPED: {} is absent, so the Twilio contract test cannot run",
            spec.display()
        );
        return;
    }
    let (_prism, url) = common::prism::start(&spec);
    outpost::tls::install_crypto_provider();
    // Prism does validate: a message without To is refused.
    let refused = reqwest::Client::new()
        .post(format!("{url}/2010-04-01/Accounts/{SID}/Messages.json"))
        .basic_auth(SID, Some(TOKEN))
        .form(&[("From", "+15005550006"), ("Body", "x")])
        .send()
        .await
        .unwrap();
    assert!(refused.status().is_client_error(), "{}", refused.status());

    let db = TestDb::new().await;
    let client = with_users(&db).await;
    for sql in [
        "SELECT outpost.send_phone_sms_predefined('ana', 'Salonul 4')",
        "SELECT outpost.make_phone_call('ana')",
    ] {
        let id = run(&db, env(&url, &[]), sql).await;
        let (status, _, error) = row(&client, id).await;
        assert_eq!(
            status, "sent",
            "{sql}: Prism rejected the request: {error:?}"
        );
    }
}
