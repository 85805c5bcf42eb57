//! The SMTP servers' checks from the console: "test connection" (TCP, TLS,
//! AUTH, QUIT; no mail) and "send a test e-mail" to an address typed in,
//! through the server's own settings whether or not it is enabled or first.
//! Each page names the host and port it contacted; credentials `smtp_db`
//! would refuse (plain-text AUTH off loopback, a user name without its
//! password) are refused here too, before any connection.

use std::time::Duration;

use axum::extract::Path;
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;
use serde_json::json;

use super::audit::{self, Action, Change};
use super::csrf::{Csrf, CsrfForm};
use super::pages::{self, ActionResult};
use super::session::{Admin, Session};
use super::smtp_servers::load_row;
use super::{ConsoleError, ConsoleState, Result};
use crate::channel::email::Email;
use crate::channel::email::smtp::SmtpMail;
use crate::channel::email::smtp_db::credentials_refused;
use crate::config::{Secret, SmtpSettings};
use crate::message::MessageId;
use lettre::message::Mailbox;

/// A stored server as its checks use it.
struct Target {
    name: String,
    /// `host:port`, what the check contacts.
    address: String,
    /// A transport, or why the stored credentials are not sent there.
    mail: std::result::Result<SmtpMail, String>,
}

/// A transport for the row, with `[email.smtp] ca_file` trusted as `smtp_db`
/// does, unless `smtp_db` would refuse its credentials.
async fn transport(state: &ConsoleState, id: i64) -> Result<Target> {
    let client = state.pool.get().await?;
    let r = load_row(&client, id).await?;
    let security: String = r.try_get("security")?;
    let name: String = r.try_get("name")?;
    let settings = SmtpSettings {
        host: r.try_get("host")?,
        port: u16::try_from(r.try_get::<_, i32>("port")?).unwrap_or(25),
        username: r.try_get("username")?,
        password: Secret::new(r.try_get::<_, String>("password")?),
        use_tls: security == "starttls",
        use_ssl: security == "tls",
        timeout: Duration::from_secs(r.try_get::<_, i32>("timeout_seconds")?.clamp(1, 60) as u64),
        ca_pem: state.config.smtp.ca_pem.clone(),
        pool_size: 1,
        idle_check: crate::channel::email::smtp_pool::DEFAULT_IDLE_CHECK,
    };
    let address = format!("{}:{}", settings.host, settings.port);
    let mail = match credentials_refused(
        &name,
        &settings.host,
        settings.port,
        &settings.username,
        settings.password.is_empty(),
        &security,
    ) {
        Some(why) => Err(why),
        None => Ok(SmtpMail::new("console", &settings).map_err(ConsoleError::Setup)?),
    };
    Ok(Target {
        name,
        address,
        mail,
    })
}

fn reply(session: &Session, title: &str, outcome: ActionResult) -> Result<Response> {
    pages::result(session, "smtp", title, "/smtp-servers", outcome)
}

/// The page for credentials `smtp_db` would not send either.
fn refused(session: &Session, title: &str, why: String) -> Result<Response> {
    reply(
        session,
        title,
        ActionResult::failed(StatusCode::BAD_REQUEST, format!("{why}. Nothing was sent.")),
    )
}

/// `POST /smtp-servers/{id}/test`: connect, TLS, AUTH, QUIT; no mail.
pub async fn test_connection(admin: Admin, Path(id): Path<i64>, _: Csrf) -> Result<Response> {
    let Target {
        name,
        address,
        mail,
    } = transport(&admin.state, id).await?;
    let title = format!("Test connection: {name} ({address})");
    let mail = match mail {
        Ok(mail) => mail,
        Err(why) => return refused(&admin, &title, why),
    };
    let outcome = match mail.test_connection().await {
        Ok(()) => ActionResult::done(format!(
            "Connected to {name} at {address}: TLS and authentication as configured succeeded. \
             No mail was sent."
        )),
        Err(e) => ActionResult::failed(
            StatusCode::BAD_GATEWAY,
            format!(
                "Connection test of {name} failed, contacting {address}: {}",
                e.message
            ),
        ),
    };
    reply(&admin, &title, outcome)
}

#[derive(Deserialize)]
pub struct SendTestForm {
    to: String,
}

/// `POST /smtp-servers/{id}/send-test`: one e-mail to the address typed in.
pub async fn send_test(
    admin: Admin,
    Path(id): Path<i64>,
    CsrfForm(form): CsrfForm<SendTestForm>,
) -> Result<Response> {
    let to: Mailbox = match form.to.trim().parse() {
        Ok(to) => to,
        Err(_) => {
            return reply(
                &admin,
                "Send a test e-mail",
                ActionResult::failed(
                    StatusCode::BAD_REQUEST,
                    format!("{:?} is not an e-mail address", form.to.trim()),
                ),
            );
        }
    };
    let from: Mailbox = admin
        .state
        .config
        .email_from
        .parse()
        .map_err(|_| ConsoleError::Misconfigured("email.from"))?;
    let Target {
        name,
        address,
        mail,
    } = transport(&admin.state, id).await?;
    let mail = match mail {
        Ok(mail) => mail,
        Err(why) => {
            return refused(
                &admin,
                &format!("Send a test e-mail: {name} ({address})"),
                why,
            );
        }
    };
    let email = test_email(from, &to, &name, &admin.user);
    use crate::channel::email::MailTransport;
    let outcome = match mail.deliver(&email).await {
        Ok(_) => ActionResult::done(format!("{name} accepted the test e-mail to {}.", to.email)),
        Err(e) => ActionResult::failed(
            StatusCode::BAD_GATEWAY,
            format!("{name} did not accept the test e-mail: {}", e.message),
        ),
    };
    let client = admin.state.pool.get().await?;
    let change = Change::new(Action::SmtpServerSendTest, format!("smtp server {name}"))
        .after(json!({ "to": to.email.to_string(), "ok": outcome.ok }));
    audit::record(&client, &admin, &change).await?;
    reply(
        &admin,
        &format!("Send a test e-mail: {name} ({address})"),
        outcome,
    )
}

/// The test e-mail from `from` to `to` through server `name`, sent by `user`.
fn test_email(from: Mailbox, to: &Mailbox, name: &str, user: &str) -> Email {
    let domain = from.email.domain().to_owned();
    let text = format!(
        "This is a test e-mail sent from the Outpost console by {user} through the SMTP server {name}."
    );
    Email {
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
        html: format!("<p>{text}</p>"),
        text,
        headers: Vec::new(),
        attachments: Vec::new(),
        categories: Vec::new(),
        verbatim: false,
        custom_args: Default::default(),
    }
}
