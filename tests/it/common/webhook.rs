//! A real HTTP receiver of signed webhooks (wiremock, the tests' one HTTP
//! fake technique, on a real socket) and the verification of what it got
//! with the `standardwebhooks` package from PyPI, run in the test venv.

use std::collections::VecDeque;
use std::process::{Command, Stdio};
use std::sync::Mutex;

use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

use super::smtp::tools_dir;

/// A real HTTP receiver: answers each request with the next status of its
/// script (204 once the script is spent) and keeps every request.
pub struct Receiver {
    pub server: MockServer,
}

struct Scripted(Mutex<VecDeque<u16>>);

impl Respond for Scripted {
    fn respond(&self, _: &Request) -> ResponseTemplate {
        ResponseTemplate::new(self.0.lock().unwrap().pop_front().unwrap_or(204))
    }
}

impl Receiver {
    pub async fn start(script: &[u16]) -> Self {
        let server = MockServer::start().await;
        Mock::given(wiremock::matchers::method("POST"))
            .respond_with(Scripted(Mutex::new(script.iter().copied().collect())))
            .mount(&server)
            .await;
        Self { server }
    }

    pub fn url(&self) -> String {
        format!("{}/hooks", self.server.uri())
    }

    /// Every request received, as (headers, body).
    pub async fn requests(&self) -> Vec<(serde_json::Value, String)> {
        let requests = self.server.received_requests().await.unwrap_or_default();
        requests
            .iter()
            .map(|r| {
                let headers: serde_json::Map<String, serde_json::Value> = r
                    .headers
                    .iter()
                    .map(|(k, v)| (k.to_string(), v.to_str().unwrap_or("").into()))
                    .collect();
                (
                    headers.into(),
                    String::from_utf8(r.body.clone()).expect("a UTF-8 body"),
                )
            })
            .collect()
    }
}

/// The payloads of `requests`, each verified under `secret` by the
/// `standardwebhooks` package (tests/peers/verify_webhooks.py); panics with
/// the package's own error when one does not verify.
pub fn verified(secret: &str, requests: &[(serde_json::Value, String)]) -> Vec<serde_json::Value> {
    let python = tools_dir().join("pyvenv/bin/python");
    assert!(
        python.exists(),
        "{} is missing: run ./scripts/test, which installs standardwebhooks",
        python.display()
    );
    let script =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/peers/verify_webhooks.py");
    let deliveries: Vec<_> = requests
        .iter()
        .map(|(headers, body)| serde_json::json!({"headers": headers, "body": body}))
        .collect();
    let input = serde_json::json!({"secret": secret, "deliveries": deliveries});
    let mut child = Command::new(python)
        .arg(script)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write as _;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.to_string().as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "standardwebhooks refused a delivery: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

/// Registers an endpoint for `events` (and `tenant`); its id and secret.
pub async fn endpoint(
    client: &tokio_postgres::Client,
    url: &str,
    events: &[&str],
    tenant: Option<&str>,
) -> (i64, String) {
    let row = client
        .query_one(
            "SELECT id, secret FROM outpost.webhook_endpoint_add($1, $2, $3)",
            &[&url, &events, &tenant],
        )
        .await
        .unwrap();
    (row.get(0), row.get(1))
}
