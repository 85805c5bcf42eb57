//! The operator console for the tests: served in-process on a free port, and
//! an HTTP agent that keeps the session cookie and sends forms with their
//! token and an Origin header as a browser does.

use std::sync::Arc;

use outpost::console::{self, ConsoleState};
use reqwest::StatusCode;
use reqwest::header::HeaderMap;
use tokio_util::sync::CancellationToken;

use super::TestDb;

pub const ADMIN: (&str, &str) = ("admin", "admin-password-1");
pub const VIEWER: (&str, &str) = ("viewer", "viewer-password-1");

/// A console serving a test database.
pub struct Console {
    pub base: String,
    stop: CancellationToken,
}

impl Console {
    /// Serves the console for `db` with `env` overrides; adds the admin and viewer users.
    pub async fn start(db: &TestDb, env: &[(&str, &str)]) -> Self {
        let _ = tracing_subscriber::fmt()
            .with_env_filter("outpost=warn")
            .with_test_writer()
            .try_init();
        let mut overrides = vec![
            ("OUTPOST__CONSOLE__ENABLED", "true"),
            ("OUTPOST__CONSOLE__LISTEN", "127.0.0.1:0"),
        ];
        overrides.extend_from_slice(env);
        Self::start_config(db, db.config(&overrides)).await
    }

    /// Serves the console for `db` with `config` as it is; adds the admin and viewer users.
    pub async fn start_config(db: &TestDb, config: outpost::config::Config) -> Self {
        let client = db.client().await;
        for (name, role, password) in [(ADMIN.0, "admin", ADMIN.1), (VIEWER.0, "viewer", VIEWER.1)]
        {
            console::users::add(&client, name, role.parse().unwrap(), password, None)
                .await
                .unwrap();
        }
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let templates =
            Arc::new(outpost::render::Templates::load(&config.template_source()).unwrap());
        let state = ConsoleState::new(
            outpost::pools::open(&config, outpost::pools::Purpose::Console).unwrap(),
            &config,
            templates,
        );
        let stop = CancellationToken::new();
        let limits = (&config.console).into();
        tokio::spawn(console::serve(listener, state, limits, stop.clone()));
        Self { base, stop }
    }

    pub fn agent(&self) -> Agent {
        Agent::new(&self.base)
    }

    /// An agent signed in as `user`.
    pub async fn signed_in(&self, user: (&str, &str)) -> Agent {
        let mut agent = self.agent();
        let (status, _, body) = agent.login(user.0, user.1).await;
        assert_eq!(status, StatusCode::SEE_OTHER, "login failed: {body}");
        agent.get("/").await;
        agent
    }
}

impl Drop for Console {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

/// A response: status, headers, body.
pub type Reply = (StatusCode, HeaderMap, String);

/// A browser-like client: one session cookie, the last page's form token.
pub struct Agent {
    http: reqwest::Client,
    pub base: String,
    pub cookie: Option<String>,
    /// The session cookie's name as the console set it (plain or `__Host-`).
    pub cookie_name: &'static str,
    pub csrf: Option<String>,
    /// The database the console shows (its cookie), when it serves several.
    pub database: Option<String>,
}

/// The value of the first `name="csrf"` field in `html`.
pub fn csrf_in(html: &str) -> Option<String> {
    let at = html.find("name=\"csrf\" value=\"")? + "name=\"csrf\" value=\"".len();
    Some(html[at..].split('"').next()?.to_owned())
}

impl Agent {
    pub fn new(base: &str) -> Self {
        Self {
            http: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap(),
            base: base.to_owned(),
            cookie: None,
            cookie_name: console::auth::COOKIE,
            csrf: None,
            database: None,
        }
    }

    async fn send(&mut self, request: reqwest::RequestBuilder) -> Reply {
        let mut cookies: Vec<String> = Vec::new();
        if let Some(c) = &self.cookie {
            cookies.push(format!("{}={c}", self.cookie_name));
        }
        if let Some(d) = &self.database {
            cookies.push(format!("outpost_console_database={d}"));
        }
        let request = match cookies.is_empty() {
            false => request.header("cookie", cookies.join("; ")),
            true => request,
        };
        let response = request.send().await.unwrap();
        let status = response.status();
        let headers = response.headers().clone();
        for value in headers.get_all("set-cookie") {
            let value = value.to_str().unwrap();
            if let Some(rest) = value.strip_prefix("outpost_console_database=") {
                self.database = Some(rest.split(';').next().unwrap().to_owned());
            }
            for name in [console::auth::COOKIE, console::auth::SECURE_COOKIE] {
                if let Some(rest) = value.strip_prefix(&format!("{name}=")) {
                    let token = rest.split(';').next().unwrap().to_owned();
                    self.cookie = (!token.is_empty()).then_some(token);
                    self.cookie_name = name;
                }
            }
        }
        let body = response.text().await.unwrap();
        if let Some(token) = csrf_in(&body) {
            self.csrf = Some(token);
        }
        (status, headers, body)
    }

    pub async fn login(&mut self, name: &str, password: &str) -> Reply {
        let request = self
            .http
            .post(format!("{}/login", self.base))
            .header("origin", &self.base)
            .form(&[("name", name), ("password", password), ("next", "/")]);
        self.send(request).await
    }

    pub async fn get(&mut self, path: &str) -> Reply {
        let request = self.http.get(format!("{}{path}", self.base));
        self.send(request).await
    }

    /// A form POST as the console's own page sends it (token, Origin).
    pub async fn post(&mut self, path: &str, fields: &[(&str, &str)]) -> Reply {
        let csrf = self
            .csrf
            .clone()
            .expect("load a page first: no form token yet");
        let mut form: Vec<(&str, &str)> = fields.to_vec();
        form.push(("csrf", &csrf));
        let base = self.base.clone();
        self.post_with(path, &form, &[("origin", &base)]).await
    }

    /// A form POST with exactly these fields and headers.
    pub async fn post_with(
        &mut self,
        path: &str,
        fields: &[(&str, &str)],
        headers: &[(&str, &str)],
    ) -> Reply {
        let mut request = self.http.post(format!("{}{path}", self.base)).form(fields);
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        self.send(request).await
    }
}
