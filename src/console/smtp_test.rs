//! The SMTP servers' checks from the console: "test connection" (TCP, TLS,
//! AUTH, QUIT; no mail) and "send a test e-mail" to an address typed in,
//! through the server's own settings whether or not it is enabled or first.

use std::time::Duration;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::{Extension, Form};
use serde::Deserialize;
use serde_json::json;

use super::auth::Session;
use super::pages::{self, Outcome};
use super::smtp_servers::load;
use super::{ConsoleError, ConsoleState, Result, audit};
use crate::channel::email::Email;
use crate::channel::email::smtp::SmtpMail;
use crate::config::{Secret, SmtpSettings};
use crate::message::MessageId;

/// A transport for the row, with `[email.smtp] ca_file` trusted as `smtp_db` does.
async fn transport(state: &ConsoleState, id: i64) -> Result<(String, SmtpMail)> {
    let client = state.pool.get().await?;
    let r = load(&client, id).await?;
    let security: String = r.get("security");
    let name: String = r.get("name");
    let settings = SmtpSettings {
        host: r.get("host"),
        port: u16::try_from(r.get::<_, i32>("port")).unwrap_or(25),
        username: r.get("username"),
        password: Secret::new(r.get::<_, String>("password")),
        use_tls: security == "starttls",
        use_ssl: security == "tls",
        timeout: Duration::from_secs(r.get::<_, i32>("timeout_seconds").clamp(1, 60) as u64),
        ca_pem: state.config.smtp.ca_pem.clone(),
        pool_size: 1,
        idle_check: crate::channel::email::smtp_pool::DEFAULT_IDLE_CHECK,
    };
    let mail = SmtpMail::new("console", &settings).map_err(ConsoleError::Setup)?;
    Ok((name, mail))
}

fn reply(session: &Session, title: &str, outcome: Outcome) -> Result<Response> {
    pages::result(session, "smtp", title, "/smtp-servers", outcome)
}

/// `POST /smtp-servers/{id}/test`: connect, TLS, AUTH, QUIT; no mail.
pub async fn test_connection(
    State(state): State<ConsoleState>,
    Extension(session): Extension<Session>,
    Path(id): Path<i64>,
) -> Result<Response> {
    let (name, mail) = transport(&state, id).await?;
    let outcome = match mail.test_connection().await {
        Ok(()) => Outcome::done(format!(
            "Connected to {name}: TLS and authentication as configured succeeded. No mail was sent."
        )),
        Err(e) => Outcome::failed(
            StatusCode::BAD_GATEWAY,
            format!("Connection test of {name} failed: {}", e.message),
        ),
    };
    reply(&session, &format!("Test connection: {name}"), outcome)
}

#[derive(Deserialize)]
pub struct SendTestForm {
    to: String,
}

/// `POST /smtp-servers/{id}/send-test`: one e-mail to the address typed in.
pub async fn send_test(
    State(state): State<ConsoleState>,
    Extension(session): Extension<Session>,
    Path(id): Path<i64>,
    Form(form): Form<SendTestForm>,
) -> Result<Response> {
    let to: lettre::message::Mailbox = match form.to.trim().parse() {
        Ok(to) => to,
        Err(_) => {
            return reply(
                &session,
                "Send a test e-mail",
                Outcome::failed(
                    StatusCode::BAD_REQUEST,
                    format!("{:?} is not an e-mail address", form.to.trim()),
                ),
            );
        }
    };
    let from: lettre::message::Mailbox = state
        .config
        .email_from
        .parse()
        .map_err(|_| ConsoleError::Misconfigured("email.from"))?;
    let (name, mail) = transport(&state, id).await?;
    let domain = from.email.domain().to_owned();
    let email = Email {
        id: MessageId(0),
        message_id: format!(
            "<outpost.console-test.{:016x}@{domain}>",
            rand::random::<u64>()
        ),
        from,
        to: vec![to.clone()],
        cc: Vec::new(),
        bcc: Vec::new(),
        reply_to: Vec::new(),
        subject: format!("Outpost test e-mail through {name}"),
        text: format!(
            "This is a test e-mail sent from the Outpost console by {} through the SMTP server {name}.",
            session.user
        ),
        html: format!(
            "<p>This is a test e-mail sent from the Outpost console by {} through the SMTP server {name}.</p>",
            session.user
        ),
        headers: Vec::new(),
        attachments: Vec::new(),
        categories: Vec::new(),
        verbatim: false,
        custom_args: Default::default(),
    };
    use crate::channel::email::MailTransport;
    let outcome = match mail.deliver(&email).await {
        Ok(_) => Outcome::done(format!("{name} accepted the test e-mail to {}.", to.email)),
        Err(e) => Outcome::failed(
            StatusCode::BAD_GATEWAY,
            format!("{name} did not accept the test e-mail: {}", e.message),
        ),
    };
    let client = state.pool.get().await?;
    audit::record(
        &client,
        &session,
        "smtp_server.send_test",
        &format!("smtp server {name}"),
        None,
        Some(json!({ "to": to.email.to_string(), "ok": outcome.ok })),
    )
    .await?;
    reply(&session, &format!("Send a test e-mail: {name}"), outcome)
}
