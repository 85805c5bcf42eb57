//! The text of a message that has no subject (SMS, voice, push, chat): its
//! template's file rendered, else its body translated, in the envelope's
//! locale.

use super::{Envelope, SendError};
use crate::render::Renderer;

impl Envelope {
    /// `TEMPLATE.{suffix}` rendered when the message names a template, else
    /// its body through the gettext catalogs; `what` names the message in
    /// the error when it has neither ("the push has no template and no body").
    pub fn text(&self, renderer: &Renderer, suffix: &str, what: &str) -> Result<String, SendError> {
        let m = &self.message;
        match (
            m.template.as_deref().filter(|t| !t.trim().is_empty()),
            m.body.as_deref(),
        ) {
            (Some(template), _) => renderer
                .render_file(&format!("{template}.{suffix}"), &m.context, &self.locale)
                .map_err(|e| SendError::permanent(e.to_string())),
            (None, Some(body)) => Ok(renderer.catalogs().gettext(&self.locale, None, body)),
            (None, None) => Err(SendError::permanent(format!(
                "the {what} has no template and no body"
            ))),
        }
    }
}
