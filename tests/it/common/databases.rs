//! The several-databases tests' harness: a daemon in this process serving
//! several test databases (`[database] urls`), what each database sent,
//! and providers that give each message its own id or count what they held.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use outpost::config::Config;
use serde_json::Value;
use tokio_util::sync::CancellationToken;
use wiremock::{Request, Respond, ResponseTemplate};

use super::TestDb;

/// A daemon in this process serving `dbs`, its HTTP listener at `http`.
pub struct Serving {
    pub http: String,
    pub sink: Arc<Mutex<Vec<u8>>>,
    stop: CancellationToken,
    task: tokio::task::JoinHandle<()>,
}

impl Serving {
    pub async fn start(dbs: &[&TestDb], extra: Vec<(String, String)>) -> Self {
        // A port none of `extra`'s listeners was given (a port just freed
        // may be handed out again).
        let port = loop {
            let port = super::free_port();
            if !extra.iter().any(|(_, v)| v.ends_with(&format!(":{port}"))) {
                break port;
            }
        };
        let urls: Vec<&str> = dbs.iter().map(|d| d.url.as_str()).collect();
        let mut overrides = vec![
            ("OUTPOST__DATABASE__URLS".to_owned(), urls.join(" ")),
            (
                "OUTPOST__HTTP__LISTEN".to_owned(),
                format!("127.0.0.1:{port}"),
            ),
            (
                "OUTPOST__HOUSEKEEPING__ENABLED".to_owned(),
                "false".to_owned(),
            ),
            (
                "OUTPOST__DISPATCH__POLL_INTERVAL".to_owned(),
                "200ms".to_owned(),
            ),
        ];
        overrides.extend(extra);
        let config: Config = dbs[0].config_env(overrides);
        assert_eq!(config.databases.len(), dbs.len());
        let templates =
            Arc::new(outpost::render::Templates::load(&config.template_source()).unwrap());
        let sink = Arc::new(Mutex::new(Vec::new()));
        let providers =
            outpost::daemon::Providers::build(&config, templates.clone(), sink.clone()).unwrap();
        let daemon = outpost::daemon::Daemon::with_providers(&config, providers, templates);
        let stop = CancellationToken::new();
        let task = tokio::spawn({
            let stop = stop.clone();
            async move {
                daemon.run_until_stopped(stop).await.unwrap();
            }
        });
        let http = format!("http://{}", config.http.listen);
        for _ in 0..200 {
            if reqwest::get(format!("{http}/healthz")).await.is_ok() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        Self {
            http,
            sink,
            stop,
            task,
        }
    }

    pub async fn readyz(&self) -> (u16, Value) {
        let r = reqwest::get(format!("{}/readyz", self.http)).await.unwrap();
        (r.status().as_u16(), r.json().await.unwrap())
    }

    pub async fn metrics(&self) -> String {
        reqwest::get(format!("{}/metrics", self.http))
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    }

    pub async fn stop(self) {
        self.stop.cancel();
        tokio::time::timeout(Duration::from_secs(20), self.task)
            .await
            .expect("the daemon stops")
            .unwrap();
    }
}

/// How many of `db`'s messages are sent, and whether any has other than one attempt.
pub async fn sent(db: &TestDb) -> (i64, i64) {
    let row = db
        .client()
        .await
        .query_one(
            "SELECT count(*) FILTER (WHERE m.status = 'sent'),
                    count(*) FILTER (WHERE (SELECT count(*) FROM outpost.attempts a WHERE a.message_id = m.id) <> 1)
             FROM outpost.messages m",
            &[],
        )
        .await
        .unwrap();
    (row.get(0), row.get(1))
}

pub async fn until_sent(db: &TestDb, expected: i64, within: Duration) {
    let deadline = Instant::now() + within;
    loop {
        let (sent, _) = sent(db).await;
        if sent >= expected {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{}: {sent} of {expected} sent within {within:?}",
            db.name
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

pub async fn emails(db: &TestDb, n: i32, tag: &str) {
    db.client()
        .await
        .execute(
            "INSERT INTO outpost.messages (kind, to_address, subject, body)
             SELECT 'email', 'someone@example.com', $2 || g, 'hello' FROM generate_series(1, $1) g",
            &[&n, &tag],
        )
        .await
        .unwrap();
}

/// A Twilio fake giving each message a sid of its own.
pub struct Numbered(pub std::sync::atomic::AtomicU32);

impl Respond for Numbered {
    fn respond(&self, _: &Request) -> ResponseTemplate {
        let n = self.0.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        crate::twilio::created(&format!("SM{n:032}"))
    }
}

/// A SendGrid stand-in answering 202 after `delay`, counting the most
/// requests it held at once.
pub async fn slow_sendgrid(delay: Duration) -> (String, Arc<std::sync::atomic::AtomicUsize>) {
    use std::sync::atomic::{AtomicUsize, Ordering};
    let now = Arc::new(AtomicUsize::new(0));
    let most = Arc::new(AtomicUsize::new(0));
    let app = axum::Router::new().fallback({
        let (now, most) = (now.clone(), most.clone());
        move || {
            let (now, most) = (now.clone(), most.clone());
            async move {
                let held = now.fetch_add(1, Ordering::SeqCst) + 1;
                most.fetch_max(held, Ordering::SeqCst);
                tokio::time::sleep(delay).await;
                now.fetch_sub(1, Ordering::SeqCst);
                (
                    axum::http::StatusCode::ACCEPTED,
                    [("x-message-id", format!("sg{held}"))],
                )
            }
        }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (url, most)
}
