//! A real Chromium, headless, driven over WebDriver by Debian's chromedriver:
//! the console's browser test clicks through pages with it and saves
//! screenshots under `target/console-screenshots`.

use std::path::{Path, PathBuf};
use std::time::Duration;

use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::json;

use super::daemon::Daemon;

/// A browser session; the driver is stopped when this is dropped.
pub struct Browser {
    pub client: Client,
    shots: PathBuf,
    _driver: Daemon,
    _profile: tempfile::TempDir,
}

/// Chromium and its WebDriver, or why they are missing.
fn binaries() -> Result<(String, String), String> {
    let find = |names: &[&str]| {
        names.iter().find_map(|n| {
            ["/usr/bin", "/usr/local/bin", "/usr/lib/chromium"]
                .iter()
                .map(|d| Path::new(d).join(n))
                .find(|p| p.exists())
                .map(|p| p.display().to_string())
        })
    };
    let chromium = find(&["chromium", "chromium-browser"]).ok_or(
        "no chromium (Debian: apt-get install chromium chromium-driver; scripts/test does)",
    )?;
    let driver = find(&["chromedriver"])
        .ok_or("no chromedriver (Debian: apt-get install chromium-driver)")?;
    Ok((chromium, driver))
}

impl Browser {
    /// Starts chromedriver and a headless Chromium in a fresh profile; `Err`
    /// says what is not installed.
    pub async fn start() -> Result<Self, String> {
        let (chromium, driver) = binaries()?;
        let port = super::free_port();
        let driver = Daemon(
            std::process::Command::new(&driver)
                .arg(format!("--port={port}"))
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null())
                .spawn()
                .map_err(|e| format!("cannot start {driver}: {e}"))?,
        );
        let profile = tempfile::tempdir().map_err(|e| e.to_string())?;
        let mut caps = serde_json::Map::new();
        caps.insert(
            "goog:chromeOptions".into(),
            json!({
                "binary": chromium,
                "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                         "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-dev-shm-usage",
                         "--window-size=1280,1000", format!("--user-data-dir={}", profile.path().display())]
            }),
        );
        // fantoccini's rustls needs a process-wide provider; run alone, no
        // other test has installed one yet.
        outpost::tls::install_crypto_provider();
        let connect = || async {
            ClientBuilder::rustls()
                .map_err(|e| e.to_string())?
                .capabilities(caps.clone())
                .connect(&format!("http://127.0.0.1:{port}"))
                .await
                .map_err(|e| e.to_string())
        };
        let mut last = String::new();
        for _ in 0..100 {
            match connect().await {
                Ok(client) => {
                    let shots =
                        Path::new(env!("CARGO_MANIFEST_DIR")).join("target/console-screenshots");
                    std::fs::create_dir_all(&shots).map_err(|e| e.to_string())?;
                    return Ok(Self {
                        client,
                        shots,
                        _driver: driver,
                        _profile: profile,
                    });
                }
                Err(e) => last = e,
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("chromedriver did not start a browser session: {last}");
    }

    pub async fn goto(&self, url: &str) {
        self.client.goto(url).await.unwrap();
    }

    /// The current URL's path.
    pub async fn path(&self) -> String {
        self.client.current_url().await.unwrap().path().to_owned()
    }

    /// Waits until the current URL's query string contains `part` (a form
    /// submitted by GET has loaded).
    pub async fn wait_for_query(&self, part: &str) {
        for _ in 0..200 {
            let url = self.client.current_url().await.unwrap();
            if url.query().is_some_and(|q| q.contains(part)) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        panic!("the page's query never contained {part:?}");
    }

    pub async fn source(&self) -> String {
        self.client.source().await.unwrap()
    }

    /// Replaces what field `id` holds with `value`.
    pub async fn fill(&self, id: &str, value: &str) {
        let field = self.client.find(Locator::Id(id)).await.unwrap();
        field.clear().await.unwrap();
        field.send_keys(value).await.unwrap();
    }

    /// Chooses `value` in select `id`.
    pub async fn select(&self, id: &str, value: &str) {
        self.client
            .find(Locator::Id(id))
            .await
            .unwrap()
            .select_by_value(value)
            .await
            .unwrap();
    }

    /// Waits for the element `locator` finds and clicks it.
    pub async fn click(&self, locator: Locator<'_>) {
        self.client
            .wait()
            .for_element(locator)
            .await
            .unwrap()
            .click()
            .await
            .unwrap();
    }

    /// Waits for the element `locator` finds to appear.
    pub async fn wait_for(&self, locator: Locator<'_>) {
        self.client.wait().for_element(locator).await.unwrap();
    }

    /// Waits for element `id` and returns its text.
    pub async fn text(&self, id: &str) -> String {
        self.client
            .wait()
            .for_element(Locator::Id(id))
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    }

    /// Saves the page as `target/console-screenshots/{name}.png`.
    pub async fn shot(&self, name: &str) {
        let png = self.client.screenshot().await.unwrap();
        std::fs::write(self.shots.join(format!("{name}.png")), png).unwrap();
    }

    pub async fn close(self) {
        self.client.clone().close().await.unwrap();
    }
}
