//! Recipient resolution: the address a message goes to (decided by the claim)
//! or why it has none, and the locale it is rendered in.

use crate::message::{ClaimedMessage, Kind};

/// Where and in which language a message is delivered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resolved {
    pub to: String,
    pub locale: String,
}

/// Why a message has nowhere to go. The text becomes the row's `last_error`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ResolveError {
    #[error("unknown recipient: user {user:?} is not in {relation}")]
    UnknownUser { user: String, relation: String },
    #[error("recipient user {user:?} has no {what} for {kind} messages")]
    MissingAddress {
        user: String,
        what: &'static str,
        kind: Kind,
    },
}

/// Resolves `message` given the recipients relation's name (for errors) and
/// the configured default locale. The address is the one the claim decided
/// (`message_shape.sql`); this only says why there is none.
pub fn resolve(
    message: &ClaimedMessage,
    relation: &str,
    default_locale: &str,
) -> Result<Resolved, ResolveError> {
    let recipient = message.recipient.as_ref();
    let Some(to) = non_empty(message.address.as_deref()) else {
        return Err(match recipient {
            Some(recipient) => ResolveError::MissingAddress {
                user: recipient.user_id.clone(),
                what: what_for(message.kind),
                kind: message.kind,
            },
            None => ResolveError::UnknownUser {
                user: message.to_user.clone().unwrap_or_default(),
                relation: relation.to_owned(),
            },
        });
    };
    let locale = non_empty(message.locale.as_deref())
        .or_else(|| recipient.and_then(|r| non_empty(r.locale.as_deref())))
        .unwrap_or(default_locale)
        .to_owned();
    Ok(Resolved {
        to: to.to_owned(),
        locale,
    })
}

/// What a recipient lacks when a message of `kind` has no address.
fn what_for(kind: Kind) -> &'static str {
    match kind {
        Kind::Email => "e-mail address",
        Kind::Sms | Kind::Voice => "phone number",
        Kind::Push => "push named user",
        Kind::Chat => "user id",
        Kind::Webhook => "webhook endpoint",
    }
}

fn non_empty(value: Option<&str>) -> Option<&str> {
    value.map(str::trim).filter(|v| !v.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::message::Recipient;

    #[test]
    fn the_claims_address_is_used_and_locale_falls_back() {
        let m = ClaimedMessage {
            address: Some("+353861234567".into()),
            ..ClaimedMessage::example(Kind::Sms)
        };
        let r = resolve(&m, "outpost.recipients", "en").unwrap();
        assert_eq!(r.to, "+353861234567");
        assert_eq!(r.locale, "en");
    }

    #[test]
    fn the_recipients_locale_unless_the_message_names_one() {
        let mut m = ClaimedMessage {
            to_user: Some("42".into()),
            address: Some("ann@example.com".into()),
            recipient: Some(Recipient {
                user_id: "42".into(),
                locale: Some("ro".into()),
                ..Recipient::default()
            }),
            ..ClaimedMessage::example(Kind::Email)
        };
        assert_eq!(resolve(&m, "r", "en").unwrap().locale, "ro");
        m.locale = Some("fr".into());
        assert_eq!(resolve(&m, "r", "en").unwrap().locale, "fr");
    }

    #[test]
    fn no_address_says_what_the_recipient_lacks_or_that_there_is_none() {
        let mut m = ClaimedMessage {
            to_user: Some("42".into()),
            recipient: Some(Recipient {
                user_id: "42".into(),
                ..Recipient::default()
            }),
            ..ClaimedMessage::example(Kind::Sms)
        };
        assert_eq!(
            resolve(&m, "outpost.recipients", "en")
                .unwrap_err()
                .to_string(),
            "recipient user \"42\" has no phone number for sms messages"
        );
        m.recipient = None;
        assert_eq!(
            resolve(&m, "app.users", "en").unwrap_err().to_string(),
            "unknown recipient: user \"42\" is not in app.users"
        );
    }
}
