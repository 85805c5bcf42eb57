//! Before a send: where the message goes (its recipient resolved, its
//! options read for its kind, suppressions and preferences applied, quiet
//! hours respected, its channel picked), then, once a send slot is taken,
//! whether that channel's circuit admits it or its fallback must serve.

use std::sync::Arc;

use chrono::Utc;

use super::Dispatcher;
use super::breaker::Admit;
use super::deliver::handed_back;
use super::outcome::Outcome;
use crate::channel::{Channel, SendError};
use crate::message::ClaimedMessage;
use crate::recipient;
use crate::suppression::Verdict;

/// Where a message goes, decided before a send slot is taken.
pub(super) struct Plan {
    pub(super) to: String,
    pub(super) locale: String,
    pub(super) channel: Arc<dyn Channel>,
    /// Suppressed recipients left out, for the attempt's note.
    pub(super) note: Option<String>,
}

/// The channel a send goes through now, and a note when it is the fallback.
pub(super) type Admitted = (Arc<dyn Channel>, Option<String>);

impl Dispatcher {
    /// Where and how the message goes: its resolved recipient, the
    /// suppressed recipients left out, and its channel; or the outcome that
    /// ends it without a send (no address, all suppressed, no such provider).
    pub(super) fn plan(
        &self,
        message: &ClaimedMessage,
        started_at: chrono::DateTime<Utc>,
    ) -> Result<Plan, Box<Outcome>> {
        let permanent =
            |e: String| self.finish(message, None, Err(SendError::permanent(e)), started_at);
        crate::options::MessageOptions::parse(message.kind, &message.options)
            .map_err(|e| Box::new(permanent(e.to_string())))?;
        let resolved = recipient::resolve(message, &self.recipients, &self.default_locale)
            .map_err(|e| Box::new(permanent(e.to_string())))?;
        if !self.limits.allows(message.kind, &resolved.to) {
            // The number itself is the recipient's: not in the error.
            return Err(Box::new(permanent(format!(
                "not sent: the number's country prefix is not one of limits.phone_prefixes ({})",
                self.limits.phone_prefixes.join(", ")
            ))));
        }
        let note = match &message.suppression {
            Verdict::Clear => None,
            Verdict::All(suppressed) => {
                let mut outcome = permanent(
                    "every recipient is on the suppression list (outpost.suppressions); not sent"
                        .to_owned(),
                )
                .suppressed();
                outcome.note = Some(format!("suppressed: {}", suppressed.join(", ")));
                return Err(Box::new(outcome));
            }
            Verdict::Some(dropped) => Some(format!(
                "not sent to {} suppressed recipient{}: {}",
                dropped.len(),
                if dropped.len() == 1 { "" } else { "s" },
                dropped.join(", ")
            )),
        };
        if let Some(preference) = &message.controls.blocked_by {
            return Err(Box::new(permanent(preference.clone()).suppressed()));
        }
        if let Some(held) = self.quiet_hours(message) {
            let outcome = handed_back(message, &held.reason, held.until, started_at);
            return Err(Box::new(outcome));
        }
        let channel = self
            .channels
            .pick(message.kind, message.provider.as_deref())
            .map_err(|e| Box::new(permanent(e.to_string())))?
            .clone();
        Ok(Plan {
            to: resolved.to,
            locale: resolved.locale,
            channel,
            note,
        })
    }

    /// Until when the recipient's quiet hours hold `message` back, if they do.
    fn quiet_hours(&self, message: &ClaimedMessage) -> Option<crate::quiet_hours::Held> {
        let r = message.recipient.as_ref();
        let to = crate::quiet_hours::RecipientHours {
            own: message.controls.quiet_hours.as_deref(),
            tenant: r
                .and_then(|r| r.tenant.as_deref())
                .or(message.tenant.as_deref()),
            timezone: r.and_then(|r| r.timezone.as_deref()),
        };
        let priority = message.controls.priority;
        self.quiet_hours
            .hold(message.kind, priority, to, Utc::now())
    }

    /// The channel to send through now: `channel` while its circuit is
    /// closed, else the kind's fallback (with a note saying so), else the
    /// outcome that defers the message unsent.
    pub(super) fn admit(
        &self,
        message: &ClaimedMessage,
        channel: Arc<dyn Channel>,
        started_at: chrono::DateTime<Utc>,
    ) -> Result<Admitted, Box<Outcome>> {
        let circuit = channel.circuit(message);
        let Admit::No { retry_in } = self.breakers.admit(&circuit) else {
            return Ok((channel, None));
        };
        let fallback = self
            .channels
            .fallback(message.kind)
            .filter(|f| f.name() != channel.name() && self.breakers.admit(f.name()) == Admit::Yes)
            .cloned();
        match fallback {
            Some(fallback) => {
                let note = format!(
                    "{} circuit open; sent through the fallback {}",
                    channel.name(),
                    fallback.name()
                );
                Ok((fallback, Some(note)))
            }
            None => Err(Box::new(
                self.deferred(message, &circuit, retry_in, started_at),
            )),
        }
    }
}
