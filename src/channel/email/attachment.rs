//! Attachments of an e-mail: `options.attachments` checked and decoded
//! (filename, type, disposition, Content-ID and the part's own headers), and
//! each turned into a MIME part.

use base64::Engine as _;
use lettre::message::SinglePart;
use lettre::message::header::{
    ContentDisposition, ContentId, ContentType, Header, HeaderName, HeaderValue,
};

use crate::channel::SendError;

/// A file attached to an e-mail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attachment {
    /// None for a part without a file name (e.g. an inline image known only
    /// by its Content-ID).
    pub filename: Option<String>,
    pub content_type: String,
    pub content: Vec<u8>,
    /// `inline` (referenced by `content_id`) rather than `attachment`.
    pub inline: bool,
    pub content_id: Option<String>,
    /// The part's own headers (e.g. `Content-Description`, `X-Attachment-Id`).
    pub headers: Vec<(String, String)>,
}

/// Headers a part may not set through `headers`: the fields above own them.
const PART_RESERVED: [&str; 5] = [
    "content-type",
    "content-transfer-encoding",
    "content-disposition",
    "content-id",
    "mime-version",
];

fn bad(message: impl Into<String>) -> SendError {
    SendError::permanent(message)
}

/// A header whose name is known only at run time. Only its `display` is
/// used (by `Headers::set`), which writes the runtime name.
#[derive(Debug, Clone)]
struct PartHeader(HeaderName, String);

impl Header for PartHeader {
    fn name() -> HeaderName {
        HeaderName::new_from_ascii_str("X-Outpost-Part-Header")
    }

    fn parse(s: &str) -> Result<Self, Box<dyn std::error::Error + Send + Sync>> {
        Ok(Self(Self::name(), s.to_owned()))
    }

    fn display(&self) -> HeaderValue {
        HeaderValue::new(self.0.clone(), self.1.clone())
    }
}

/// Checks a header name and value from an option; `reserved` names are refused.
fn checked_header(
    name: &str,
    value: &serde_json::Value,
    reserved: &[&str],
    place: &str,
) -> Result<(String, String), SendError> {
    let value = value
        .as_str()
        .ok_or_else(|| bad(format!("{place} header {name} must be a string")))?;
    let valid_name = !name.is_empty() && name.bytes().all(|b| b.is_ascii_graphic() && b != b':');
    if !valid_name {
        return Err(bad(format!("invalid {place} header name {name:?}")));
    }
    if reserved.contains(&name.to_ascii_lowercase().as_str()) {
        return Err(bad(format!(
            "header {name} cannot be set through {place} headers"
        )));
    }
    if value.contains(['\r', '\n']) {
        return Err(bad(format!("{place} header {name} contains CR or LF")));
    }
    Ok((name.to_owned(), value.to_owned()))
}

fn one(i: usize, a: &serde_json::Value) -> Result<Attachment, SendError> {
    let field = |name: &str| a.get(name).and_then(|v| v.as_str());
    let filename = match a.get("filename") {
        None | Some(serde_json::Value::Null) => None,
        Some(serde_json::Value::String(f))
            if !f.trim().is_empty() && !f.contains(['\r', '\n', '"']) =>
        {
            Some(f.clone())
        }
        Some(_) => {
            return Err(bad(format!(
                "attachment {i}: filename must be a non-empty string without quotes or line breaks"
            )));
        }
    };
    let label = filename.clone().unwrap_or_else(|| format!("{i}"));
    let content = base64::engine::general_purpose::STANDARD
        .decode(field("content").unwrap_or_default().trim())
        .map_err(|e| bad(format!("attachment {label}: content is not base64: {e}")))?;
    let content_type = field("type")
        .unwrap_or("application/octet-stream")
        .to_owned();
    ContentType::parse(&content_type)
        .map_err(|_| bad(format!("attachment {label}: invalid type {content_type:?}")))?;
    let inline = match field("disposition").unwrap_or("attachment") {
        "attachment" => false,
        "inline" => true,
        other => {
            return Err(bad(format!(
                "attachment {label}: disposition must be inline or attachment, not {other:?}"
            )));
        }
    };
    let content_id = field("content_id").map(str::to_owned);
    if content_id
        .as_deref()
        .is_some_and(|c| c.contains(['\r', '\n']))
    {
        return Err(bad(format!(
            "attachment {label}: content_id contains CR or LF"
        )));
    }
    if filename.is_none() && content_id.is_none() && !inline {
        return Err(bad(format!(
            "attachment {i} needs a filename or a content_id"
        )));
    }
    let headers = match a.get("headers") {
        None | Some(serde_json::Value::Null) => Vec::new(),
        Some(serde_json::Value::Object(map)) => map
            .iter()
            .map(|(k, v)| checked_header(k, v, &PART_RESERVED, "attachment"))
            .collect::<Result<_, _>>()?,
        Some(_) => {
            return Err(bad(format!(
                "attachment {label}: headers must be an object of strings"
            )));
        }
    };
    Ok(Attachment {
        filename,
        content_type,
        content,
        inline,
        content_id,
        headers,
    })
}

/// `options.attachments`, checked and decoded.
pub fn parse(options: &serde_json::Value) -> Result<Vec<Attachment>, SendError> {
    let Some(value) = options.get("attachments").filter(|v| !v.is_null()) else {
        return Ok(Vec::new());
    };
    let items = value
        .as_array()
        .ok_or_else(|| bad("options.attachments must be a list"))?;
    items.iter().enumerate().map(|(i, a)| one(i, a)).collect()
}

/// The Content-ID header value: angle brackets added when missing.
pub fn content_id_header(id: &str) -> String {
    if id.starts_with('<') && id.ends_with('>') {
        id.to_owned()
    } else {
        format!("<{id}>")
    }
}

/// The attachment as a MIME part.
pub fn to_part(a: &Attachment) -> Result<SinglePart, SendError> {
    let content_type = ContentType::parse(&a.content_type)
        .map_err(|_| bad(format!("invalid attachment type {:?}", a.content_type)))?;
    let mut builder = SinglePart::builder().header(content_type);
    builder = match (&a.filename, a.inline) {
        (Some(name), true) => builder.header(ContentDisposition::inline_with_name(name)),
        (None, true) => builder.header(ContentDisposition::inline()),
        (Some(name), false) => builder.header(ContentDisposition::attachment(name)),
        (None, false) => builder.header(PartHeader(
            HeaderName::new_from_ascii_str("Content-Disposition"),
            "attachment".into(),
        )),
    };
    if let Some(id) = &a.content_id {
        builder = builder.header(ContentId::from(content_id_header(id)));
    }
    for (name, value) in &a.headers {
        let name = HeaderName::new_from_ascii(name.clone())
            .map_err(|_| bad(format!("invalid attachment header name {name:?}")))?;
        builder = builder.header(PartHeader(name, value.clone()));
    }
    Ok(builder.body(a.content.clone()))
}
