//! A SendGrid-like HTTP fake on wiremock (the one HTTP fake technique of the
//! tests): answers 202 with an `X-Message-Id` after a set latency, and counts
//! what arrived per outbox id (the `outpost_id` custom argument).

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

/// How often each outbox id arrived.
pub type Seen = Arc<Mutex<HashMap<i64, u32>>>;

/// A running fake; it stops when dropped.
pub struct SendGridFake {
    pub uri: String,
    pub seen: Seen,
    /// Requests that arrived, counted when they arrive.
    pub arrived: Arc<AtomicU64>,
    _server: MockServer,
}

struct Counting {
    latency: Duration,
    seen: Seen,
    arrived: Arc<AtomicU64>,
}

impl Respond for Counting {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        self.arrived.fetch_add(1, Ordering::SeqCst);
        let id = outpost_id(&request.body);
        if let Some(id) = id {
            *self.seen.lock().unwrap().entry(id).or_insert(0) += 1;
        }
        ResponseTemplate::new(202)
            .insert_header("X-Message-Id", format!("fake{}", id.unwrap_or(0)).as_str())
            .set_delay(self.latency)
    }
}

/// The `outpost_id` of a SendGrid request body.
pub fn outpost_id(body: &[u8]) -> Option<i64> {
    let value: serde_json::Value = serde_json::from_slice(body).ok()?;
    value["personalizations"][0]["custom_args"]["outpost_id"]
        .as_str()?
        .parse()
        .ok()
}

/// Starts the fake answering after `latency`.
pub async fn sendgrid(latency: Duration) -> SendGridFake {
    let server = MockServer::builder()
        .disable_request_recording()
        .start()
        .await;
    let seen: Seen = Arc::default();
    let arrived = Arc::new(AtomicU64::new(0));
    Mock::given(method("POST"))
        .and(path("/v3/mail/send"))
        .respond_with(Counting {
            latency,
            seen: seen.clone(),
            arrived: arrived.clone(),
        })
        .mount(&server)
        .await;
    SendGridFake {
        uri: server.uri(),
        seen,
        arrived,
        _server: server,
    }
}
