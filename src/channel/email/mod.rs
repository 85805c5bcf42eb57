//! E-mail: renders the template (or the built-in simple mail), composes a
//! MIME message and hands it to a transport: console, SMTP, an SMTP server
//! from the database, or SendGrid.

pub mod attachment;
pub mod compose;
pub mod sendgrid;
pub mod smtp;
pub mod smtp_db;
pub mod smtp_pool;
pub mod stdout;

use std::sync::Arc;

use async_trait::async_trait;

use super::chat::Mirror;
use super::{Channel, Delivery, Envelope, SendError};
use crate::config::UnsubscribeSettings;
use crate::render::{RenderedEmail, Renderer, Templates};
use crate::unsubscribe::{Target, Who};
pub use compose::Email;

/// Sends a composed e-mail somewhere.
#[async_trait]
pub trait MailTransport: Send + Sync {
    /// The provider name recorded on attempts (`console`, `smtp`, `smtp_db`, `sendgrid`).
    fn name(&self) -> &str;
    async fn deliver(&self, email: &Email) -> Result<Delivery, SendError>;
}

/// The e-mail channel over one transport.
pub struct EmailChannel {
    transport: Arc<dyn MailTransport>,
    templates: Arc<Templates>,
    default_from: String,
    max_recipients: usize,
    mirror: Option<Arc<Mirror>>,
    unsubscribe: Option<Arc<UnsubscribeSettings>>,
    /// Its database's name when the daemon serves several: unsubscribe
    /// links name it.
    database: Option<String>,
}

impl EmailChannel {
    pub fn new(
        transport: Arc<dyn MailTransport>,
        templates: Arc<Templates>,
        default_from: impl Into<String>,
    ) -> Self {
        Self {
            transport,
            templates,
            default_from: default_from.into(),
            max_recipients: compose::DEFAULT_MAX_RECIPIENTS,
            mirror: None,
            unsubscribe: None,
            database: None,
        }
    }

    /// Sends for `database`, one of several the daemon serves: its
    /// unsubscribe links act in that database only.
    pub fn in_database(mut self, database: Option<&str>) -> Self {
        self.database = database.map(str::to_owned);
        self
    }

    /// Gives e-mails with a category one-click unsubscribe headers and
    /// their templates `unsubscribe_url`.
    pub fn with_unsubscribe(mut self, settings: Option<UnsubscribeSettings>) -> Self {
        self.unsubscribe = settings.map(Arc::new);
        self
    }

    /// Most recipients (to + cc + bcc) one e-mail may have.
    pub fn with_max_recipients(mut self, max: usize) -> Self {
        self.max_recipients = max;
        self
    }

    /// Duplicates sent e-mails into the recipient's private chat channel.
    pub fn with_mirror(mut self, mirror: Arc<Mirror>) -> Self {
        self.mirror = Some(mirror);
        self
    }
}

#[async_trait]
impl Channel for EmailChannel {
    fn name(&self) -> &str {
        self.transport.name()
    }

    async fn send(&self, envelope: &Envelope) -> Result<Delivery, SendError> {
        let unsubscribe = self
            .unsubscribe
            .as_deref()
            .and_then(|settings| Some((settings, unsubscribe_target(envelope)?)))
            .map(|(settings, target)| {
                let database = self.database.clone();
                (settings, Target { database, ..target })
            });
        let url = unsubscribe.as_ref().map(|(s, target)| s.url(target));
        let rendered = render_with(&self.templates.get(), envelope, url.as_deref())?;
        let mut email = compose::compose(envelope, rendered, &self.default_from)?;
        if let Some((settings, target)) = &unsubscribe {
            email.headers.retain(|(name, _)| {
                !name.eq_ignore_ascii_case("list-unsubscribe")
                    && !name.eq_ignore_ascii_case("list-unsubscribe-post")
            });
            email.headers.extend(settings.headers(target));
        }
        compose::check_recipients(&email, self.max_recipients)?;
        let mut delivery = self.transport.deliver(&email).await?;
        if let Some(mirror) = &self.mirror
            && let Some(note) = mirror
                .mirror(&envelope.message, &email.subject, &email.text)
                .await
        {
            delivery.note = Some(match delivery.note {
                Some(existing) => format!("{existing}; {note}"),
                None => note,
            });
        }
        Ok(delivery)
    }
}

/// Subject, text and HTML for a message: its template; else, with
/// `options.verbatim`, its `subject`, `body` and `html` exactly as stored
/// (either part may be absent); else its literal `html` with `body` as the
/// text part; else the built-in simple mail
/// (subject, body and `options.links`).
pub fn render(renderer: &Renderer, envelope: &Envelope) -> Result<RenderedEmail, SendError> {
    render_with(renderer, envelope, None)
}

/// Who an e-mail with a category unsubscribes when they click: its user, else
/// its (first) address; `None` for a transactional e-mail.
fn unsubscribe_target(envelope: &Envelope) -> Option<Target> {
    let m = &envelope.message;
    let category = m.controls.category.clone()?;
    let who = match m
        .to_user
        .as_deref()
        .map(str::trim)
        .filter(|u| !u.is_empty())
    {
        Some(user) => Who::User(user.to_owned()),
        None => {
            let first = envelope.to.split(',').next()?.trim();
            let mailbox: lettre::message::Mailbox = first.parse().ok()?;
            Who::Address(mailbox.email.to_string().to_lowercase())
        }
    };
    Some(Target {
        who,
        category,
        kind: m.kind,
        database: None,
    })
}

/// As [`render`], with `unsubscribe_url` in a template's context when the
/// e-mail has one.
fn render_with(
    renderer: &Renderer,
    envelope: &Envelope,
    unsubscribe_url: Option<&str>,
) -> Result<RenderedEmail, SendError> {
    let m = &envelope.message;
    let permanent = |e: crate::render::RenderError| SendError::permanent(e.to_string());
    if let Some(template) = m.template.as_deref().filter(|t| !t.trim().is_empty()) {
        let mut context = m.context.clone();
        if let (Some(url), Some(map)) = (unsubscribe_url, context.as_object_mut()) {
            map.insert("unsubscribe_url".into(), url.into());
        }
        return renderer
            .render_email(template, &context, &envelope.locale, m.subject.as_deref())
            .map_err(permanent);
    }
    if compose::is_verbatim(&m.options) {
        if m.body.is_none() && m.html.is_none() {
            return Err(SendError::permanent("the e-mail has no body and no html"));
        }
        return Ok(RenderedEmail {
            subject: m.subject.clone().unwrap_or_default(),
            text: m.body.clone().unwrap_or_default(),
            html: m.html.clone().unwrap_or_default(),
        });
    }
    let subject = m
        .subject
        .as_deref()
        .filter(|s| !s.trim().is_empty())
        .ok_or_else(|| SendError::permanent("the e-mail has no template and no subject"))?;
    match (&m.html, &m.body) {
        (Some(html), body) => Ok(RenderedEmail {
            subject: crate::render::one_line(subject),
            text: body.clone().unwrap_or_default(),
            html: html.clone(),
        }),
        (None, Some(body)) => {
            let links = m
                .options
                .get("links")
                .cloned()
                .unwrap_or(serde_json::Value::Null);
            renderer
                .render_simple(subject, body, &links, &envelope.locale)
                .map_err(permanent)
        }
        (None, None) => Err(SendError::permanent(
            "the e-mail has no template and no body",
        )),
    }
}
