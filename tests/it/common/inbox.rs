//! The inbox tests' harness: a daemon in this process with the inbox on
//! its HTTP port, seeded tenants and users, tokens minted in SQL, and an
//! event-stream reader.

use std::time::Duration;

use serde_json::Value;
use tokio_util::sync::CancellationToken;

use super::TestDb;

/// A daemon running in this process with the inbox on `http`.
pub struct Running {
    pub http: String,
    stop: CancellationToken,
    task: tokio::task::JoinHandle<()>,
}

impl Running {
    pub async fn start(db: &TestDb, edit: impl FnOnce(&mut outpost::config::Config)) -> Self {
        let port = super::free_port();
        let listen = format!("127.0.0.1:{port}");
        let mut config = db.config(&[
            ("OUTPOST__HTTP__LISTEN", &listen),
            ("OUTPOST__HTTP__KEEP_ALIVE_TIMEOUT", "1s"),
            ("OUTPOST__HOUSEKEEPING__ENABLED", "false"),
            ("OUTPOST__INBOX__HEARTBEAT", "1s"),
        ]);
        edit(&mut config);
        let (channels, _) = db.channels(&config);
        let stop = CancellationToken::new();
        let task = tokio::spawn({
            let stop = stop.clone();
            async move {
                outpost::daemon::run(&config, channels, stop).await.unwrap();
            }
        });
        let http = format!("http://{listen}");
        for _ in 0..200 {
            if reqwest::get(format!("{http}/healthz")).await.is_ok() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        Self { http, stop, task }
    }

    pub async fn stop(self) {
        self.stop.cancel();
        tokio::time::timeout(Duration::from_secs(20), self.task)
            .await
            .expect("the daemon stops with streams open")
            .unwrap();
    }
}

/// Tenant `t1` with messaging on (no pushes), users 42 and 43 in it, user
/// 99 in tenant `t2`.
pub async fn seed(client: &tokio_postgres::Client) {
    client
        .batch_execute(
            "INSERT INTO outpost.messaging_configs (tenant, push_on_message) VALUES ('t1', false), ('t2', false);
             INSERT INTO outpost.recipients (user_id, tenant) VALUES ('42', 't1'), ('43', 't1'), ('99', 't2');",
        )
        .await
        .unwrap();
}

pub async fn token(client: &tokio_postgres::Client, user: &str, ttl: &str) -> String {
    client
        .query_one(
            "SELECT outpost.inbox_token($1, ttl => $2::text::interval)",
            &[&user, &ttl],
        )
        .await
        .unwrap()
        .get(0)
}

pub async fn system_message(client: &tokio_postgres::Client, user: &str, text: &str) -> i64 {
    client
        .query_one(
            "SELECT outpost.send_system_message($1, $2)",
            &[&user, &text],
        )
        .await
        .unwrap()
        .get(0)
}

/// One server-sent event.
#[derive(Debug, Clone)]
pub struct SseEvent {
    pub event: String,
    pub id: Option<String>,
    pub data: String,
}

impl SseEvent {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.data).unwrap()
    }
}

/// An open event stream, read event by event.
pub struct Stream {
    response: reqwest::Response,
    buffer: String,
}

impl Stream {
    pub async fn open(http: &str, token: &str, last_event_id: Option<&str>) -> Self {
        let response = Self::request(http, token, last_event_id).await;
        assert_eq!(response.status(), 200);
        assert_eq!(
            response.headers()["content-type"].to_str().unwrap(),
            "text/event-stream"
        );
        Self {
            response,
            buffer: String::new(),
        }
    }

    /// The answer to opening a stream.
    pub async fn request(
        http: &str,
        token: &str,
        last_event_id: Option<&str>,
    ) -> reqwest::Response {
        let mut request = reqwest::Client::new()
            .get(format!("{http}/inbox/stream"))
            .bearer_auth(token);
        if let Some(id) = last_event_id {
            request = request.header("Last-Event-ID", id);
        }
        request.send().await.unwrap()
    }

    /// The next event (comments skipped) within `wait`, `None` at the end.
    pub async fn next(&mut self, wait: Duration) -> Option<SseEvent> {
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            while let Some(end) = self.buffer.find("\n\n") {
                let block: String = self.buffer.drain(..end + 2).collect();
                let (mut event, mut id, mut data) = ("message".to_owned(), None, Vec::new());
                for line in block.lines() {
                    if let Some(v) = line.strip_prefix("event:") {
                        event = v.trim().to_owned();
                    } else if let Some(v) = line.strip_prefix("id:") {
                        id = Some(v.trim().to_owned());
                    } else if let Some(v) = line.strip_prefix("data:") {
                        data.push(v.trim_start().to_owned());
                    }
                }
                if !data.is_empty() {
                    let data = data.join("\n");
                    return Some(SseEvent { event, id, data });
                }
            }
            let chunk = tokio::time::timeout_at(deadline, self.response.chunk())
                .await
                .unwrap_or_else(|_| panic!("no event within {wait:?}"))
                .ok()??;
            self.buffer.push_str(&String::from_utf8_lossy(&chunk));
        }
    }

    /// Events until one named `name`, which is returned.
    pub async fn until(&mut self, name: &str) -> SseEvent {
        loop {
            let e = self
                .next(Duration::from_secs(5))
                .await
                .expect("stream open");
            if e.event == name {
                return e;
            }
        }
    }

    /// Whether no `message` event arrives within `wait`.
    pub async fn quiet(&mut self, wait: Duration) -> bool {
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            if left.is_zero() {
                return true;
            }
            match tokio::time::timeout(left, self.next(left + Duration::from_secs(1))).await {
                Err(_) => return true,
                Ok(Some(e)) if e.event == "message" => return false,
                Ok(_) => {}
            }
        }
    }
}

/// The first ```lang block after `marker` in docs/inbox.md, as written.
pub fn doc_block(marker: &str, lang: &str) -> String {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/inbox.md");
    let text = std::fs::read_to_string(path).unwrap();
    let section = text.split(marker).nth(1).expect("the docs section");
    section
        .split(&format!("```{lang}\n"))
        .nth(1)
        .and_then(|b| b.split("```").next())
        .expect("the docs block")
        .to_owned()
}
