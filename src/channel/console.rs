//! The console backend: prints each message as readable text, like Django's
//! console e-mail backend. The default for every kind.

use std::fmt::Write as _;
use std::io::Write;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;

use super::{Channel, Delivery, Envelope, SendError};
use crate::message::Kind;

/// Where the console backend writes: stdout, or a buffer in tests.
pub type ConsoleSink = Arc<Mutex<dyn Write + Send>>;

/// Writes `text` to `sink` and flushes it: what every console backend does
/// instead of sending.
pub fn print(sink: &ConsoleSink, text: &str) -> Result<(), SendError> {
    let mut sink = sink
        .lock()
        .map_err(|_| SendError::transient("console output is unavailable"))?;
    sink.write_all(text.as_bytes())
        .and_then(|()| sink.flush())
        .map_err(|e| SendError::transient(format!("writing to the console failed: {e}")))
}

/// Prints messages instead of sending them.
pub struct ConsoleChannel {
    sink: ConsoleSink,
    from: String,
}

impl ConsoleChannel {
    /// A console channel on stdout. `from` is the configured e-mail sender.
    pub fn stdout(from: impl Into<String>) -> Self {
        Self::with_sink(Arc::new(Mutex::new(std::io::stdout())), from)
    }

    pub fn with_sink(sink: ConsoleSink, from: impl Into<String>) -> Self {
        Self {
            sink,
            from: from.into(),
        }
    }

    /// The text printed for one message.
    pub fn render(&self, envelope: &Envelope) -> String {
        let m = &envelope.message;
        let mut out = String::new();
        let rule = "-".repeat(72);
        let _ = writeln!(out, "{rule}");
        let _ = writeln!(out, "Outpost-Id: {}", m.id);
        let _ = writeln!(out, "Kind: {}", m.kind);
        if m.kind == Kind::Email {
            let from = m
                .options
                .get("from")
                .and_then(|v| v.as_str())
                .unwrap_or(&self.from);
            let _ = writeln!(out, "From: {from}");
        }
        let _ = writeln!(out, "To: {}", envelope.to);
        let _ = writeln!(out, "Locale: {}", envelope.locale);
        if let Some(tenant) = &m.tenant {
            let _ = writeln!(out, "Tenant: {tenant}");
        }
        if let Some(subject) = &m.subject {
            let _ = writeln!(out, "Subject: {subject}");
        }
        if let Some(template) = &m.template {
            let _ = writeln!(out, "Template: {template}");
            let _ = writeln!(out, "Context: {}", m.context);
        }
        if m.options.as_object().is_some_and(|o| !o.is_empty()) {
            let _ = writeln!(out, "Options: {}", m.options);
        }
        if let Some(body) = &m.body {
            let _ = writeln!(out, "\n{body}");
        }
        if let Some(html) = &m.html {
            let _ = writeln!(out, "\n[text/html]\n{html}");
        }
        let _ = writeln!(out, "{rule}");
        out
    }
}

#[async_trait]
impl Channel for ConsoleChannel {
    fn name(&self) -> &str {
        "console"
    }

    async fn send(&self, envelope: &Envelope) -> Result<Delivery, SendError> {
        let text = self.render(envelope);
        print(&self.sink, &text)?;
        Ok(Delivery::id(Some(format!(
            "console-{}-{}",
            envelope.message.id, envelope.message.attempt
        ))))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::message::{ClaimedMessage, MessageId};

    fn envelope(kind: Kind) -> Envelope {
        Envelope {
            message: ClaimedMessage {
                id: MessageId(7),
                to_address: Some("x".into()),
                subject: Some("Audit due".into()),
                body: Some("Please complete the audit.".into()),
                html: Some("<p>Please complete the audit.</p>".into()),
                tenant: Some("hospital-1".into()),
                ..ClaimedMessage::example(kind)
            },
            to: "ann@example.com".into(),
            locale: "ro".into(),
        }
    }

    #[tokio::test]
    async fn prints_every_kind_readably() {
        let buffer = Arc::new(Mutex::new(Vec::<u8>::new()));
        let console = ConsoleChannel::with_sink(buffer.clone(), "Outpost <noreply@example.com>");
        for kind in Kind::ALL {
            let delivery = console.send(&envelope(kind)).await.unwrap();
            assert_eq!(delivery.provider_message_id.as_deref(), Some("console-7-1"));
        }
        let printed = String::from_utf8(buffer.lock().unwrap().clone()).unwrap();
        for kind in Kind::ALL {
            assert!(printed.contains(&format!("Kind: {kind}\n")), "{printed}");
        }
        assert_eq!(
            printed
                .matches("From: Outpost <noreply@example.com>")
                .count(),
            1,
            "only e-mail has a sender"
        );
        assert_eq!(
            printed
                .matches(
                    "To: ann@example.com\nLocale: ro\nTenant: hospital-1\nSubject: Audit due\n"
                )
                .count(),
            5
        );
        assert_eq!(printed.matches("\nPlease complete the audit.\n").count(), 5);
        assert_eq!(
            printed
                .matches("[text/html]\n<p>Please complete the audit.</p>")
                .count(),
            5
        );
    }
}
