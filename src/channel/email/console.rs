//! The console e-mail transport: prints the whole MIME message, as Django's
//! console backend does.

use async_trait::async_trait;

use super::{Email, MailTransport, compose};
use crate::channel::console::ConsoleSink;
use crate::channel::{Delivery, SendError};

pub struct ConsoleMail {
    sink: ConsoleSink,
}

impl ConsoleMail {
    pub fn new(sink: ConsoleSink) -> Self {
        Self { sink }
    }
}

#[async_trait]
impl MailTransport for ConsoleMail {
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
        crate::channel::console::print(&self.sink, &text)?;
        Ok(Delivery::id(Some(email.message_id.clone())))
    }
}
