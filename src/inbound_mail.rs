//! SendGrid Inbound Parse payloads → [`InboundEmail`]: the default (parsed)
//! mode with text decoded by the `charsets` map, and the raw mode whose
//! `email` field holds the whole MIME message.

use mailparse::{DispositionType, MailHeaderMap, ParsedMail};
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::storable;

/// A received multipart form: text fields and file parts, as bytes.
#[derive(Debug, Default, Clone)]
pub struct Form {
    pub fields: Vec<(String, Vec<u8>)>,
    pub files: Vec<FormFile>,
}

#[derive(Debug, Clone)]
pub struct FormFile {
    pub field: String,
    pub filename: Option<String>,
    pub content_type: Option<String>,
    pub data: Vec<u8>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct InboundAttachment {
    pub filename: Option<String>,
    pub content_type: Option<String>,
    pub content_id: Option<String>,
    pub content: Vec<u8>,
}

/// One received e-mail, ready to store.
#[derive(Debug, Clone, PartialEq)]
pub struct InboundEmail {
    pub dedupe_key: String,
    pub message_id: Option<String>,
    /// `parsed` or `raw`.
    pub mode: &'static str,
    pub from: Option<String>,
    pub to: Option<String>,
    pub cc: Option<String>,
    pub subject: Option<String>,
    pub text: Option<String>,
    pub html: Option<String>,
    pub headers: Option<String>,
    pub envelope: Option<Value>,
    pub sender_ip: Option<String>,
    pub spf: Option<String>,
    pub dkim: Option<String>,
    pub spam_score: Option<f64>,
    pub spam_report: Option<String>,
    pub charsets: Option<Value>,
    /// The raw MIME message as readable text (raw mode).
    pub raw: Option<String>,
    /// The raw MIME message exactly as received (raw mode).
    pub raw_bytes: Option<Vec<u8>>,
    pub attachments: Vec<InboundAttachment>,
    /// What had to change to store it (NUL replaced), if anything.
    pub note: Option<String>,
}

/// Why a payload is not an inbound e-mail.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct InboundError(pub String);

impl Form {
    fn raw(&self, name: &str) -> Option<&[u8]> {
        self.fields
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_slice())
    }

    /// A field decoded with the charset SendGrid names for it (UTF-8 otherwise).
    fn text(&self, name: &str, charsets: Option<&Value>) -> Option<String> {
        let bytes = self.raw(name)?;
        let label = charsets
            .and_then(|c| c.get(name))
            .and_then(|v| v.as_str())
            .unwrap_or("UTF-8");
        let encoding =
            encoding_rs::Encoding::for_label(label.trim().as_bytes()).unwrap_or(encoding_rs::UTF_8);
        let (text, _, _) = encoding.decode(bytes);
        Some(text.into_owned())
    }

    fn json(&self, name: &str) -> Result<Option<Value>, InboundError> {
        match self.raw(name) {
            None => Ok(None),
            Some(bytes) if bytes.iter().all(u8::is_ascii_whitespace) => Ok(None),
            Some(bytes) => serde_json::from_slice(bytes)
                .map(Some)
                .map_err(|e| InboundError(format!("field {name} is not valid JSON: {e}"))),
        }
    }

    /// A hash of everything received: the dedupe key of mail without a Message-ID.
    fn digest(&self) -> String {
        self.digest_of(|_| true)
    }

    /// A hash of the mail itself (the raw message, or the parsed headers,
    /// addresses, subject, bodies and files), without SendGrid's own verdicts.
    fn content_digest(&self) -> String {
        const CONTENT: [&str; 8] = [
            "email", "headers", "from", "to", "cc", "subject", "text", "html",
        ];
        self.digest_of(|name| CONTENT.contains(&name))
    }

    fn digest_of(&self, include: impl Fn(&str) -> bool) -> String {
        let mut hasher = Sha256::new();
        for (name, value) in self.fields.iter().filter(|(n, _)| include(n)) {
            hasher.update((name.len() as u64).to_le_bytes());
            hasher.update(name.as_bytes());
            hasher.update((value.len() as u64).to_le_bytes());
            hasher.update(value);
        }
        for file in &self.files {
            hasher.update(file.field.as_bytes());
            hasher.update((file.data.len() as u64).to_le_bytes());
            hasher.update(&file.data);
        }
        hex::encode(hasher.finalize())
    }
}

/// Parses either mode.
pub fn parse(form: &Form) -> Result<InboundEmail, InboundError> {
    let charsets = form.json("charsets")?;
    let charsets_ref = charsets.as_ref();
    let envelope = form.json("envelope")?;
    let mut email = InboundEmail {
        dedupe_key: String::new(),
        message_id: None,
        mode: "parsed",
        from: form.text("from", charsets_ref),
        to: form.text("to", charsets_ref),
        cc: form.text("cc", charsets_ref),
        subject: form.text("subject", charsets_ref),
        text: form.text("text", charsets_ref),
        html: form.text("html", charsets_ref),
        headers: form.text("headers", charsets_ref),
        envelope,
        sender_ip: form.text("sender_ip", None),
        spf: form.text("SPF", None),
        dkim: form.text("dkim", None),
        spam_score: form
            .text("spam_score", None)
            .and_then(|s| s.trim().parse::<f64>().ok())
            .filter(|s| s.is_finite()),
        spam_report: form.text("spam_report", charsets_ref),
        charsets,
        raw: None,
        raw_bytes: None,
        attachments: Vec::new(),
        note: None,
    };
    if let Some(raw) = form.raw("email") {
        fill_from_mime(&mut email, raw)?;
    } else {
        if email.from.is_none() && email.headers.is_none() {
            return Err(InboundError(
                "neither an 'email' field (raw mode) nor 'from'/'headers' (parsed mode)".into(),
            ));
        }
        email.attachments = parsed_attachments(form)?;
        if let Some(headers) = &email.headers {
            let (parsed, _) = mailparse::parse_headers(headers.as_bytes())
                .map_err(|e| InboundError(format!("field headers cannot be parsed: {e}")))?;
            email.message_id = parsed
                .get_first_value("Message-ID")
                .map(|v| v.trim().to_owned());
        }
    }
    email.make_storable();
    // The same Message-ID on different content is a different mail.
    email.dedupe_key = match &email.message_id {
        Some(id) if !id.is_empty() => format!("message-id:{id} sha256:{}", form.content_digest()),
        _ => format!("sha256:{}", form.digest()),
    };
    Ok(email)
}

impl InboundEmail {
    /// Replaces NUL (which PostgreSQL text and jsonb refuse) in every text
    /// field and records which ones in `note`; `raw_bytes` stays as received.
    fn make_storable(&mut self) {
        let mut replaced = storable::Replaced::default();
        for (name, field) in [
            ("message_id", &mut self.message_id),
            ("from", &mut self.from),
            ("to", &mut self.to),
            ("cc", &mut self.cc),
            ("subject", &mut self.subject),
            ("text", &mut self.text),
            ("html", &mut self.html),
            ("headers", &mut self.headers),
            ("sender_ip", &mut self.sender_ip),
            ("SPF", &mut self.spf),
            ("dkim", &mut self.dkim),
            ("spam_report", &mut self.spam_report),
            ("email", &mut self.raw),
        ] {
            replaced.check(name, storable::optional(field));
        }
        for (name, field) in [
            ("envelope", &mut self.envelope),
            ("charsets", &mut self.charsets),
        ] {
            replaced.check(name, field.as_mut().is_some_and(storable::json));
        }
        for a in &mut self.attachments {
            let changed = storable::optional(&mut a.filename)
                | storable::optional(&mut a.content_type)
                | storable::optional(&mut a.content_id);
            replaced.check("attachment names", changed);
        }
        self.note = replaced.note();
    }
}

fn parsed_attachments(form: &Form) -> Result<Vec<InboundAttachment>, InboundError> {
    let info = form.json("attachment-info")?;
    Ok(form
        .files
        .iter()
        .map(|file| {
            let meta = info.as_ref().and_then(|i| i.get(&file.field));
            let meta_str = |key: &str| {
                meta.and_then(|m| m.get(key))
                    .and_then(|v| v.as_str())
                    .map(str::to_owned)
            };
            InboundAttachment {
                filename: meta_str("filename").or_else(|| file.filename.clone()),
                content_type: meta_str("type").or_else(|| file.content_type.clone()),
                content_id: meta_str("content-id"),
                content: file.data.clone(),
            }
        })
        .collect())
}

fn fill_from_mime(email: &mut InboundEmail, raw: &[u8]) -> Result<(), InboundError> {
    let mail = mailparse::parse_mail(raw)
        .map_err(|e| InboundError(format!("field email is not a MIME message: {e}")))?;
    email.mode = "raw";
    email.raw = Some(String::from_utf8_lossy(raw).into_owned());
    email.raw_bytes = Some(raw.to_vec());
    let header = |name: &str| mail.headers.get_first_value(name);
    email.message_id = header("Message-ID").map(|v| v.trim().to_owned());
    email.from = email.from.take().or_else(|| header("From"));
    email.to = email.to.take().or_else(|| header("To"));
    email.cc = email.cc.take().or_else(|| header("Cc"));
    email.subject = email.subject.take().or_else(|| header("Subject"));
    let header_end = find_header_end(raw);
    email.headers = Some(
        String::from_utf8_lossy(&raw[..header_end])
            .trim_end()
            .to_owned(),
    );
    walk(&mail, email)?;
    Ok(())
}

fn find_header_end(raw: &[u8]) -> usize {
    for (i, w) in raw.windows(2).enumerate() {
        if w == b"\n\n" {
            return i + 1;
        }
        if i + 4 <= raw.len() && &raw[i..i + 4] == b"\r\n\r\n" {
            return i + 2;
        }
    }
    raw.len()
}

fn walk(part: &ParsedMail<'_>, email: &mut InboundEmail) -> Result<(), InboundError> {
    if !part.subparts.is_empty() {
        for sub in &part.subparts {
            walk(sub, email)?;
        }
        return Ok(());
    }
    let disposition = part.get_content_disposition();
    let filename = disposition
        .params
        .get("filename")
        .cloned()
        .or_else(|| part.ctype.params.get("name").cloned());
    let mime = part.ctype.mimetype.to_ascii_lowercase();
    let is_attachment =
        disposition.disposition == DispositionType::Attachment || filename.is_some();
    if !is_attachment && mime == "text/plain" && email.text.is_none() {
        email.text = Some(
            part.get_body()
                .map_err(|e| InboundError(format!("text part: {e}")))?,
        );
    } else if !is_attachment && mime == "text/html" && email.html.is_none() {
        email.html = Some(
            part.get_body()
                .map_err(|e| InboundError(format!("html part: {e}")))?,
        );
    } else if is_attachment {
        email.attachments.push(InboundAttachment {
            filename,
            content_type: Some(mime),
            content_id: part.headers.get_first_value("Content-ID"),
            content: part
                .get_body_raw()
                .map_err(|e| InboundError(format!("attachment: {e}")))?,
        });
    }
    Ok(())
}
