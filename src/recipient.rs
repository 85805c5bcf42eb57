//! Recipient resolution: the address a message goes to, and the locale it is
//! rendered in, from its `to_address` or its `to_user`'s row.

use crate::message::{ClaimedMessage, Kind, Recipient};

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
/// the configured default locale.
pub fn resolve(
    message: &ClaimedMessage,
    relation: &str,
    default_locale: &str,
) -> Result<Resolved, ResolveError> {
    let explicit = non_empty(message.to_address.as_deref());
    let recipient = message.recipient.as_ref();
    let to = match (explicit, non_empty(message.to_user.as_deref())) {
        (Some(address), _) => address.to_owned(),
        (None, Some(user)) => {
            let recipient = recipient.ok_or_else(|| ResolveError::UnknownUser {
                user: user.to_owned(),
                relation: relation.to_owned(),
            })?;
            address_for(message.kind, recipient)?
        }
        // The CHECK constraint rules this out; fail the row rather than panic.
        (None, None) => {
            return Err(ResolveError::UnknownUser {
                user: String::new(),
                relation: relation.to_owned(),
            });
        }
    };
    let locale = non_empty(message.locale.as_deref())
        .or_else(|| recipient.and_then(|r| non_empty(r.locale.as_deref())))
        .unwrap_or(default_locale)
        .to_owned();
    Ok(Resolved { to, locale })
}

fn address_for(kind: Kind, recipient: &Recipient) -> Result<String, ResolveError> {
    let (value, what) = match kind {
        Kind::Email => (recipient.email.as_deref(), "e-mail address"),
        Kind::Sms | Kind::Voice => (recipient.phone.as_deref(), "phone number"),
        Kind::Push => (
            recipient
                .push_named_user
                .as_deref()
                .or(Some(recipient.user_id.as_str())),
            "push named user",
        ),
        Kind::Chat => (Some(recipient.user_id.as_str()), "user id"),
    };
    non_empty(value)
        .map(str::to_owned)
        .ok_or_else(|| ResolveError::MissingAddress {
            user: recipient.user_id.clone(),
            what,
            kind,
        })
}

fn non_empty(value: Option<&str>) -> Option<&str> {
    value.map(str::trim).filter(|v| !v.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(kind: Kind, to_user: Option<&str>, to_address: Option<&str>) -> ClaimedMessage {
        ClaimedMessage {
            to_user: to_user.map(Into::into),
            to_address: to_address.map(Into::into),
            ..ClaimedMessage::example(kind)
        }
    }

    #[test]
    fn explicit_address_wins_and_locale_falls_back() {
        let m = message(Kind::Sms, None, Some(" +353861234567 "));
        let r = resolve(&m, "outpost.recipients", "en").unwrap();
        assert_eq!(r.to, "+353861234567");
        assert_eq!(r.locale, "en");
    }

    #[test]
    fn user_resolves_by_kind_with_their_locale() {
        let mut m = message(Kind::Email, Some("42"), None);
        m.recipient = Some(Recipient {
            user_id: "42".into(),
            email: Some("ann@example.com".into()),
            locale: Some("ro".into()),
            ..Recipient::default()
        });
        let r = resolve(&m, "outpost.recipients", "en").unwrap();
        assert_eq!(
            r,
            Resolved {
                to: "ann@example.com".into(),
                locale: "ro".into()
            }
        );

        m.kind = Kind::Sms;
        let err = resolve(&m, "outpost.recipients", "en").unwrap_err();
        assert_eq!(
            err.to_string(),
            "recipient user \"42\" has no phone number for sms messages"
        );

        m.kind = Kind::Push;
        assert_eq!(resolve(&m, "outpost.recipients", "en").unwrap().to, "42");
    }

    #[test]
    fn unknown_user_names_the_relation() {
        let m = message(Kind::Email, Some("7"), None);
        let err = resolve(&m, "app.users", "en").unwrap_err();
        assert_eq!(
            err.to_string(),
            "unknown recipient: user \"7\" is not in app.users"
        );
    }
}
