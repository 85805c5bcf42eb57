//! The SMTP server form: as posted ([`ServerForm`]), checked ([`Checked`]),
//! and shown ([`Fields`]): empty for a new server, a stored one's fields, or
//! what was posted with why it was refused. The password is never shown.

use axum::response::Response;
use serde::{Deserialize, Serialize};

use super::Result;
use super::form::{Refusal, respond};
use super::pages;
use super::session::Session;

/// The add/edit form page: the fields as shown (never the password).
#[derive(Serialize, Default)]
pub(super) struct FormPage {
    server: Fields,
    error: Option<Refusal>,
}

/// A server's fields as the form shows them.
#[derive(Serialize, Default)]
pub(super) struct Fields {
    pub(super) id: Option<i64>,
    pub(super) name: String,
    pub(super) host: String,
    pub(super) port: String,
    pub(super) username: String,
    pub(super) security: String,
    pub(super) order: String,
    pub(super) timeout_seconds: String,
    pub(super) password_set: bool,
    pub(super) enabled: bool,
}

page! {
    FormPage => "smtp_server_form.html", "smtp";
}

/// The add/edit form as posted: a missing field is empty.
#[derive(Debug, Deserialize, Default)]
#[serde(default)]
pub struct ServerForm {
    pub(super) name: String,
    pub(super) host: String,
    pub(super) port: String,
    pub(super) username: String,
    /// Empty: keep the current password (cleared anyway when the host, port,
    /// user name or security changes).
    pub(super) password: String,
    pub(super) clear_password: Option<String>,
    pub(super) security: String,
    pub(super) order: String,
    pub(super) timeout_seconds: String,
    pub(super) enabled: Option<String>,
}

pub(super) struct Checked {
    pub(super) name: String,
    pub(super) host: String,
    pub(super) port: i32,
    pub(super) username: String,
    pub(super) security: String,
    pub(super) order: Option<i32>,
    pub(super) timeout_seconds: i32,
}

impl ServerForm {
    pub(super) fn check(&self) -> Result<Checked, Refusal> {
        let name = self.name.trim();
        if name.is_empty() {
            return Err(Refusal::new("name", "required"));
        }
        let host = self.host.trim();
        if host.is_empty() || host.contains(char::is_whitespace) {
            return Err(Refusal::new("host", "required, without spaces"));
        }
        let port: i32 = self
            .port
            .trim()
            .parse()
            .ok()
            .filter(|p| (1..=65535).contains(p))
            .ok_or(Refusal::new("port", "a number from 1 to 65535"))?;
        if !matches!(self.security.as_str(), "none" | "starttls" | "tls") {
            return Err(Refusal::new("security", "none, starttls or tls"));
        }
        let order = match self.order.trim() {
            "" => None,
            o => Some(
                o.parse()
                    .map_err(|_| Refusal::new("order", "a whole number"))?,
            ),
        };
        let timeout_seconds = match self.timeout_seconds.trim() {
            "" => 60,
            t => t
                .parse()
                .ok()
                .filter(|t| *t > 0)
                .ok_or(Refusal::new("timeout", "a positive number of seconds"))?,
        };
        Ok(Checked {
            name: name.to_owned(),
            host: host.to_owned(),
            port,
            username: self.username.trim().to_owned(),
            security: self.security.clone(),
            order,
            timeout_seconds,
        })
    }
}

pub(super) fn form_page(
    session: &Session,
    server: Fields,
    error: Option<Refusal>,
) -> Result<Response> {
    let page = FormPage { server, error };
    Ok(respond(pages::render(session, &page)?, page.error.as_ref()))
}

/// What a form posted, for showing it again with an error (never the password).
pub(super) fn echo(form: &ServerForm, id: Option<i64>, password_set: bool) -> Fields {
    Fields {
        id,
        name: form.name.clone(),
        host: form.host.clone(),
        port: form.port.clone(),
        username: form.username.clone(),
        security: form.security.clone(),
        order: form.order.clone(),
        timeout_seconds: form.timeout_seconds.clone(),
        password_set,
        enabled: form.enabled.is_some(),
    }
}

/// A database refusal (duplicate name, a CHECK) in words.
pub(super) fn refusal(e: &tokio_postgres::Error) -> Option<Refusal> {
    e.as_db_error().map(|d| match d.constraint() {
        Some("smtp_servers_name_key") => Refusal::new("name", "another server has this name"),
        _ => Refusal::new("server", d.message().to_owned()),
    })
}

/// `GET /smtp-servers/new`.
pub async fn new_form(session: Session) -> Result<Response> {
    let server = Fields {
        port: "587".into(),
        security: "starttls".into(),
        timeout_seconds: "60".into(),
        enabled: true,
        ..Fields::default()
    };
    form_page(&session, server, None)
}
