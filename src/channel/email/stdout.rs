//! The console e-mail transport: prints the whole MIME message, as Django's
//! console backend does.

use async_trait::async_trait;

use super::{Email, MailTransport, compose};
use crate::channel::stdout::StdoutSink;
use crate::channel::{Delivery, SendError};

pub struct StdoutMail {
    sink: StdoutSink,
}

impl StdoutMail {
    pub fn new(sink: StdoutSink) -> Self {
        Self { sink }
    }
}

#[async_trait]
impl MailTransport for StdoutMail {
    fn name(&self) -> &str {
        "console"
    }

    async fn deliver(&self, email: &Email) -> Result<Delivery, SendError> {
        let mime = compose::to_mime(email)?.formatted();
        let rule = "-".repeat(72);
        let text = format!(
            "{rule}\nOutpost-Id: {}\n{}\n{rule}\n",
            email.id,
            String::from_utf8_lossy(&mime)
        );
        crate::channel::stdout::print(&self.sink, &text)?;
        Ok(Delivery::id(Some(email.message_id.clone())))
    }
}
