//! Turns a rendered message and its `options` into an [`Email`]: checked
//! addresses, headers without CR/LF, decoded attachments, a stable
//! Message-ID; and an `Email` into a MIME message.

use std::collections::BTreeMap;
use std::str::FromStr;

use lettre::message::header::{HeaderName, HeaderValue};
use lettre::message::{Mailbox, MultiPart, SinglePart};

use super::attachment;

use crate::channel::{Envelope, SendError};
use crate::message::MessageId;
use crate::render::RenderedEmail;

pub use super::attachment::Attachment;

/// An e-mail ready for any transport.
#[derive(Debug, Clone)]
pub struct Email {
    pub id: MessageId,
    /// `<outpost.ID@domain>`: the same on every attempt, so a duplicate is recognisable.
    pub message_id: String,
    pub from: Mailbox,
    pub to: Vec<Mailbox>,
    pub cc: Vec<Mailbox>,
    pub bcc: Vec<Mailbox>,
    pub reply_to: Vec<Mailbox>,
    pub subject: String,
    pub text: String,
    pub html: String,
    pub headers: Vec<(String, String)>,
    pub attachments: Vec<Attachment>,
    pub categories: Vec<String>,
    /// Always carries `outpost_id`, so provider events map back to the row.
    pub custom_args: BTreeMap<String, String>,
    /// `options.verbatim`: the text and HTML are sent as given, either of
    /// them may be absent (empty), and the subject may be empty.
    pub verbatim: bool,
}

/// Headers an option may not set: the composer owns them.
const RESERVED: [&str; 12] = [
    "from",
    "to",
    "cc",
    "bcc",
    "subject",
    "reply-to",
    "date",
    "message-id",
    "content-type",
    "content-transfer-encoding",
    "mime-version",
    "sender",
];

/// Headers that record a message's path or vouch for it: only servers on
/// the way may add them.
const TRACE_AND_AUTHENTICATION: [&str; 9] = [
    "return-path",
    "received",
    "delivered-to",
    "dkim-signature",
    "domainkey-signature",
    "authentication-results",
    "received-spf",
    "x-original-to",
    "x-google-dkim-signature",
];

/// The recipients cap when none is configured (`email.max_recipients`).
pub const DEFAULT_MAX_RECIPIENTS: usize = 50;

/// Why `name` may not be set through `options.headers`, if it may not.
fn forbidden(name: &str) -> Option<&'static str> {
    let lower = name.to_ascii_lowercase();
    if RESERVED.contains(&lower.as_str()) {
        Some("the composer sets it")
    } else if TRACE_AND_AUTHENTICATION.contains(&lower.as_str())
        || lower.starts_with("resent-")
        || lower.starts_with("arc-")
    {
        Some("a trace or authentication header")
    } else if lower.starts_with("content-") {
        Some("a MIME structure header")
    } else if lower == "x-smtpapi" {
        Some(
            "SendGrid's SMTP API instructions, which can add recipients and change how the \
             message is sent behind Outpost's recipient checks",
        )
    } else {
        None
    }
}

/// Fails an e-mail with more than `max` recipients (to + cc + bcc).
pub fn check_recipients(email: &Email, max: usize) -> Result<(), SendError> {
    let count = email.to.len() + email.cc.len() + email.bcc.len();
    if count > max {
        return Err(bad(format!(
            "too many recipients: {count} (to + cc + bcc); at most {max} per message \
             (email.max_recipients)"
        )));
    }
    Ok(())
}

fn bad(message: impl Into<String>) -> SendError {
    SendError::permanent(message)
}

fn mailbox(field: &str, text: &str) -> Result<Mailbox, SendError> {
    if text.contains(['\r', '\n']) {
        return Err(bad(format!("{field} address contains a line break")));
    }
    Mailbox::from_str(text.trim())
        .map_err(|e| bad(format!("invalid {field} address {text:?}: {e}")))
}

/// A string or an array of strings, as a list of mailboxes.
fn mailboxes(options: &serde_json::Value, field: &str) -> Result<Vec<Mailbox>, SendError> {
    match options.get(field) {
        None | Some(serde_json::Value::Null) => Ok(Vec::new()),
        Some(serde_json::Value::String(s)) => Ok(vec![mailbox(field, s)?]),
        Some(serde_json::Value::Array(items)) => items
            .iter()
            .map(|v| match v.as_str() {
                Some(s) => mailbox(field, s),
                None => Err(bad(format!("options.{field} must hold strings"))),
            })
            .collect(),
        Some(_) => Err(bad(format!(
            "options.{field} must be a string or a list of strings"
        ))),
    }
}

fn strings(options: &serde_json::Value, field: &str) -> Result<Vec<String>, SendError> {
    match options.get(field) {
        None | Some(serde_json::Value::Null) => Ok(Vec::new()),
        Some(serde_json::Value::Array(items)) => items
            .iter()
            .map(|v| {
                v.as_str()
                    .map(str::to_owned)
                    .ok_or_else(|| bad(format!("options.{field} must be a list of strings")))
            })
            .collect(),
        Some(_) => Err(bad(format!("options.{field} must be a list of strings"))),
    }
}

fn headers(options: &serde_json::Value) -> Result<Vec<(String, String)>, SendError> {
    let Some(value) = options.get("headers").filter(|v| !v.is_null()) else {
        return Ok(Vec::new());
    };
    let map = value
        .as_object()
        .ok_or_else(|| bad("options.headers must be an object of strings"))?;
    let mut out = Vec::new();
    for (name, value) in map {
        let value = value
            .as_str()
            .ok_or_else(|| bad(format!("header {name} must be a string")))?;
        let valid_name =
            !name.is_empty() && name.bytes().all(|b| b.is_ascii_graphic() && b != b':');
        if !valid_name {
            return Err(bad(format!("invalid header name {name:?}")));
        }
        if let Some(why) = forbidden(name) {
            return Err(bad(format!(
                "header {name} cannot be set through options.headers ({why})"
            )));
        }
        if value.contains(['\r', '\n']) {
            return Err(bad(format!("header {name} contains CR or LF")));
        }
        out.push((name.clone(), value.to_owned()));
    }
    Ok(out)
}

/// Whether `options.verbatim` is true.
pub fn is_verbatim(options: &serde_json::Value) -> bool {
    options.get("verbatim").and_then(serde_json::Value::as_bool) == Some(true)
}

/// Builds the e-mail for `envelope` from its rendered parts.
pub fn compose(
    envelope: &Envelope,
    rendered: RenderedEmail,
    default_from: &str,
) -> Result<Email, SendError> {
    let options = &envelope.message.options;
    let from_text = match options.get("from") {
        None | Some(serde_json::Value::Null) => default_from,
        Some(serde_json::Value::String(from)) => from.as_str(),
        Some(other) => {
            return Err(bad(format!(
                "invalid from address {other}: options.from must be a string"
            )));
        }
    };
    let from = mailbox("from", from_text)?;
    // Suppressed recipients are left out (the dispatcher has already
    // stopped a message whose every primary recipient is suppressed).
    let message = &envelope.message;
    let kept = |list: Vec<Mailbox>| -> Vec<Mailbox> {
        list.into_iter()
            .filter(|m| !message.suppression.leaves_out(m.email.as_ref()))
            .collect()
    };
    let to = kept(
        envelope
            .to
            .split(',')
            .filter(|s| !s.trim().is_empty())
            .map(|s| mailbox("to", s))
            .collect::<Result<Vec<_>, _>>()?,
    );
    if to.is_empty() {
        return Err(bad("the e-mail has no recipient"));
    }
    let reply_to = mailboxes(options, "reply_to")?;
    let mut custom_args = BTreeMap::new();
    if let Some(args) = options.get("custom_args").and_then(|v| v.as_object()) {
        for (k, v) in args {
            let text = v.as_str().map_or_else(|| v.to_string(), str::to_owned);
            custom_args.insert(k.clone(), text);
        }
    }
    custom_args.insert("outpost_id".into(), envelope.message.id.to_string());
    if rendered.subject.contains(['\r', '\n']) {
        return Err(bad("the subject contains CR or LF"));
    }
    Ok(Email {
        id: envelope.message.id,
        message_id: format!("<outpost.{}@{}>", envelope.message.id, from.email.domain()),
        from,
        to,
        cc: kept(mailboxes(options, "cc")?),
        bcc: kept(mailboxes(options, "bcc")?),
        reply_to,
        subject: rendered.subject,
        text: rendered.text,
        html: rendered.html,
        headers: headers(options)?,
        attachments: attachment::parse(options)?,
        categories: strings(options, "categories")?,
        custom_args,
        verbatim: is_verbatim(options),
    })
}

/// The e-mail as a MIME message: multipart/alternative (text/plain, then
/// text/html), inside multipart/mixed when there are attachments.
pub fn to_mime(email: &Email) -> Result<lettre::Message, SendError> {
    let mut builder = lettre::Message::builder()
        .from(email.from.clone())
        .subject(email.subject.clone())
        .message_id(Some(email.message_id.clone()))
        .date_now();
    for to in &email.to {
        builder = builder.to(to.clone());
    }
    for cc in &email.cc {
        builder = builder.cc(cc.clone());
    }
    for bcc in &email.bcc {
        builder = builder.bcc(bcc.clone());
    }
    for reply_to in &email.reply_to {
        builder = builder.reply_to(reply_to.clone());
    }
    for (name, value) in &email.headers {
        let name = HeaderName::new_from_ascii(name.clone())
            .map_err(|_| bad(format!("invalid header name {name:?}")))?;
        builder = builder.raw_header(HeaderValue::new(name, value.clone()));
    }
    let only_text = email.verbatim && email.html.is_empty();
    let only_html = email.verbatim && !email.html.is_empty() && email.text.is_empty();
    if email.attachments.is_empty() && (only_text || only_html) {
        let part = if only_html {
            SinglePart::html(email.html.clone())
        } else {
            SinglePart::plain(email.text.clone())
        };
        return builder
            .singlepart(part)
            .map_err(|e| bad(format!("cannot build the e-mail: {e}")));
    }
    let mut mixed = MultiPart::mixed().build();
    let body = if only_text {
        mixed = mixed.singlepart(SinglePart::plain(email.text.clone()));
        mixed
    } else if only_html {
        mixed = mixed.singlepart(SinglePart::html(email.html.clone()));
        mixed
    } else {
        let alternative = MultiPart::alternative_plain_html(email.text.clone(), email.html.clone());
        if email.attachments.is_empty() {
            alternative
        } else {
            mixed.multipart(alternative)
        }
    };
    let body = email.attachments.iter().try_fold(body, |body, a| {
        Ok::<_, SendError>(body.singlepart(attachment::to_part(a)?))
    })?;
    builder
        .multipart(body)
        .map_err(|e| bad(format!("cannot build the e-mail: {e}")))
}
