//! The console's templates (minijinja, autoescaped, compiled into the
//! binary) and its stylesheet.

use axum::http::{StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use minijinja::Environment;
use serde::Serialize;

use super::Result;
use super::session::Session;

/// The stylesheet, served from the binary.
const CSS: &str = include_str!("static/console.css");

macro_rules! templates {
    ($($name:literal),* $(,)?) => {
        &[$(($name, include_str!(concat!("templates/", $name)))),*]
    };
}

const TEMPLATES: &[(&str, &str)] = templates!(
    "base.html",
    "login.html",
    "overview.html",
    "messages.html",
    "bulk.html",
    "message.html",
    "smtp_servers.html",
    "smtp_server_form.html",
    "push_apps.html",
    "push_app_form.html",
    "messaging.html",
    "suppressions.html",
    "schedules.html",
    "inbound.html",
    "inbound_email.html",
    "audit.html",
    "result.html",
    "error.html",
    "bare.html",
);

/// The templates, compiled once.
pub static PAGES: std::sync::LazyLock<Pages> = std::sync::LazyLock::new(Pages::new);

/// The compiled templates.
pub struct Pages {
    env: Environment<'static>,
}

impl Pages {
    pub fn new() -> Self {
        let mut env = Environment::new();
        env.set_undefined_behavior(minijinja::UndefinedBehavior::Chainable);
        for (name, source) in TEMPLATES {
            env.add_template(name, source)
                .unwrap_or_else(|e| panic!("console template {name} does not compile: {e}"));
        }
        Self { env }
    }

    /// Renders `page` with the signed-in user, the form token and the
    /// navigation entry it highlights.
    pub fn page<P: Page>(&self, session: Option<&Session>, page: &P) -> Result<Html<String>> {
        let template = self.env.get_template(P::TEMPLATE)?;
        let context = minijinja::context! {
            user => session.map(|s| minijinja::context! {
                name => s.user.clone(),
                admin => s.is_admin(),
                role => s.role.as_str(),
            }),
            csrf => session.map(|s| s.csrf.clone()),
            nav => page.nav(),
            ..minijinja::Value::from(minijinja::value::Serde(page))
        };
        Ok(Html(template.render(context)?))
    }
}

/// A page: the serializable struct its template reads, every value the
/// template names (a misspelled or missing one is an error, not blank).
pub trait Page: Serialize {
    /// The template that renders it.
    const TEMPLATE: &'static str;
    /// The navigation entry it highlights.
    fn nav(&self) -> &str;
}

/// Renders `page` for the signed-in `session`.
pub fn render<P: Page>(session: &Session, page: &P) -> Result<Html<String>> {
    PAGES.page(Some(session), page)
}

/// What an action reports on the result page: done, or not and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActionResult {
    pub ok: bool,
    pub text: String,
    pub status: StatusCode,
}

impl ActionResult {
    pub fn done(text: impl Into<String>) -> Self {
        Self {
            ok: true,
            text: text.into(),
            status: StatusCode::OK,
        }
    }

    /// Not done: `status` is 400 for what the operator typed, 502 for a
    /// provider's refusal.
    pub fn failed(status: StatusCode, text: impl Into<String>) -> Self {
        Self {
            ok: false,
            text: text.into(),
            status,
        }
    }
}

/// The result page of an action.
#[derive(Serialize)]
struct ResultPage<'a> {
    #[serde(skip)]
    nav: &'a str,
    title: &'a str,
    ok: bool,
    text: String,
    back: &'a str,
}

impl Page for ResultPage<'_> {
    const TEMPLATE: &'static str = "result.html";
    fn nav(&self) -> &str {
        self.nav
    }
}

/// The result page of an action: its title, what happened, and a link back.
pub fn result(
    session: &Session,
    nav: &str,
    title: &str,
    back: &str,
    outcome: ActionResult,
) -> Result<Response> {
    let ActionResult { ok, text, status } = outcome;
    let page = ResultPage {
        nav,
        title,
        ok,
        text,
        back,
    };
    Ok((status, PAGES.page(Some(session), &page)?).into_response())
}

/// `GET /static/console.css`.
pub async fn stylesheet() -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        CSS,
    )
}
