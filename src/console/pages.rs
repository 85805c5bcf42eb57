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
    "webhooks.html",
    "webhook.html",
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
        // Strict: a variable a page does not provide (misspelled, missing) is an
        // error, never an empty string.
        env.set_undefined_behavior(minijinja::UndefinedBehavior::Strict);
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
            database => session.and_then(|s| s.database.as_ref()).map(|d| minijinja::context! {
                current => d.current.clone(),
                names => d.names.clone(),
            }),
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
#[derive(Serialize, Default)]
pub(super) struct ResultPage<'a> {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::console::users::Role;
    use crate::console::{
        audit, auth, bulk, error, inbound, message, messages, messaging, overview, preview,
        push_apps, schedules, smtp_form, smtp_servers, suppressions, webhooks,
    };

    fn session(role: Role) -> Session {
        Session {
            tenant: None,
            user: "ann".into(),
            role,
            csrf: "token".into(),
            address: "127.0.0.1".into(),
            token_hash: String::new(),
            database: Some(std::sync::Arc::new(super::super::state::Databases {
                current: "a".into(),
                names: vec!["a".into(), "b".into()],
            })),
        }
    }

    /// Renders `page` as an admin and as a viewer, and signed out when
    /// the page is one a signed-out visitor gets.
    fn renders<P: Page>(page: P) {
        let public = ["login.html", "error.html", "bare.html"].contains(&P::TEMPLATE);
        let signed_out = public.then_some(None);
        let signed_in = [Role::Admin, Role::Viewer].map(|r| Some(session(r)));
        for who in signed_out.into_iter().chain(signed_in) {
            let html = PAGES
                .page(who.as_ref(), &page)
                .unwrap_or_else(|e| panic!("{} does not render: {e:#}", P::TEMPLATE));
            if let Some(who) = who.filter(|_| P::TEMPLATE != "bare.html") {
                assert!(
                    html.0.contains(&format!("ann ({})", who.role)),
                    "{}",
                    P::TEMPLATE
                );
            }
        }
    }

    #[test]
    fn every_template_renders_with_its_page() {
        macro_rules! every {
            ($($page:ty),*) => { $(renders(<$page>::default());)* };
        }
        every!(
            audit::AuditPage,
            auth::LoginPage,
            bulk::BulkPage,
            error::ErrorPage
        );
        every!(
            inbound::InboundPage,
            inbound::MailPage,
            message::MessagePage
        );
        every!(
            messages::MessagesPage,
            messaging::MessagingPage,
            overview::OverviewPage
        );
        every!(
            preview::BarePage,
            push_apps::AppsPage,
            push_apps::FormPage,
            ResultPage
        );
        every!(
            schedules::SchedulesPage,
            smtp_servers::ServersPage,
            smtp_form::FormPage
        );
        every!(
            suppressions::SuppressionsPage,
            webhooks::WebhooksPage,
            webhooks::EndpointPage
        );
    }

    /// `result.html` with `titel` for `title`.
    #[derive(Serialize)]
    struct Misspelled {
        titel: &'static str,
        ok: bool,
        text: &'static str,
        back: &'static str,
    }

    impl Page for Misspelled {
        const TEMPLATE: &'static str = "result.html";
        fn nav(&self) -> &str {
            ""
        }
    }

    #[test]
    fn a_variable_the_page_does_not_provide_is_an_error_not_blank() {
        let page = Misspelled {
            titel: "Retry",
            ok: true,
            text: "done",
            back: "/",
        };
        let err = PAGES.page(None, &page).unwrap_err();
        assert!(err.to_string().contains("undefined"), "{err}");
    }
}
