//! A message's `options`, typed per kind: the keys each kind's channel
//! reads, with their JSON shapes. A message whose options name a key its
//! kind does not know, or give a known key the wrong shape, fails before
//! anything is sent, with a `last_error` naming the key: a misspelled
//! option is never silently ignored. Deeper checks (addresses, headers,
//! attachments' content) stay with the channel that reads them.

use std::fmt;

use serde::Deserialize;
use serde::de::{self, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::Value;

use crate::message::Kind;

/// E-mail's options.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EmailOptions {
    // The composer checks these itself, with errors naming what is wrong
    // in them (an address, a header, an attachment's content).
    pub from: Option<IgnoredAny>,
    pub reply_to: Option<IgnoredAny>,
    pub cc: Option<IgnoredAny>,
    pub bcc: Option<IgnoredAny>,
    pub headers: Option<IgnoredAny>,
    pub attachments: Option<IgnoredAny>,
    pub categories: Option<IgnoredAny>,
    pub verbatim: Option<bool>,
    pub custom_args: Option<Object>,
    pub links: Option<List>,
    pub mirror_to_chat: Option<bool>,
    pub digest_window: Option<String>,
    /// Checked when the message is written (migration 0028).
    pub escalate: Option<Object>,
    pub fallback: Option<Object>,
}

/// SMS and voice calls (Twilio).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PhoneOptions {
    pub from: Option<String>,
    pub digest_window: Option<String>,
    /// Checked when the message is written (migration 0028).
    pub escalate: Option<Object>,
    pub fallback: Option<Object>,
}

/// Push notifications (Airship).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PushOptions {
    pub app: Option<String>,
    pub device_type: Option<String>,
    pub title: Option<String>,
    pub deep_link: Option<String>,
    pub extra: Option<Object>,
    pub digest_window: Option<String>,
    /// Checked when the message is written (migration 0028).
    pub escalate: Option<Object>,
    pub fallback: Option<Object>,
    /// Written by Outpost on the push a chat message sends to its members.
    pub chat_channel_id: Option<i64>,
    pub chat_message_id: Option<i64>,
    pub sender: Option<String>,
}

/// In-app chat.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChatOptions {
    pub format: Option<ChatFormat>,
    pub digest_window: Option<String>,
    /// Checked when the message is written (migration 0028).
    pub escalate: Option<Object>,
    pub fallback: Option<Object>,
}

/// How a chat message's template is rendered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ChatFormat {
    Plaintext,
    Html,
}

/// A JSON object, checked as one and not copied (its contents are the
/// channel's to read).
#[derive(Debug, Default)]
pub struct Object;

/// A JSON list, checked as one and not copied.
#[derive(Debug, Default)]
pub struct List;

impl<'de> Deserialize<'de> for Object {
    fn deserialize<D: de::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Object;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Object, A::Error> {
                while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
                Ok(Object)
            }
        }
        d.deserialize_map(V)
    }
}

impl<'de> Deserialize<'de> for List {
    fn deserialize<D: de::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = List;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a list")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<List, A::Error> {
                while seq.next_element::<IgnoredAny>()?.is_some() {}
                Ok(List)
            }
        }
        d.deserialize_seq(V)
    }
}

/// A message's options, read for its kind.
#[derive(Debug)]
pub enum MessageOptions {
    Email(Box<EmailOptions>),
    Phone(PhoneOptions),
    Push(PushOptions),
    Chat(ChatOptions),
    Webhook(WebhookOptions),
}

/// A webhook delivery's options, written by `outpost.webhook_emit` and
/// `outpost.webhook_replay`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebhookOptions {
    /// The `webhook-id` header: one per event, the same on every try and replay.
    pub webhook_id: Option<String>,
    /// The delivery this one replays.
    pub replay_of: Option<i64>,
}

/// Why a message's options cannot be sent.
#[derive(Debug, thiserror::Error)]
#[error("options{}: {message}", if .path.is_empty() || .path == "." { String::new() } else { format!(".{}", .path) })]
pub struct OptionsError {
    /// Where in `options` (`cc`, `attachments[0]`), empty for the object itself.
    pub path: String,
    pub message: String,
}

impl MessageOptions {
    /// Reads `options` as `kind`'s options.
    pub fn parse(kind: Kind, options: &Value) -> Result<Self, OptionsError> {
        Ok(match kind {
            Kind::Email => MessageOptions::Email(Box::new(typed(options)?)),
            Kind::Sms | Kind::Voice => MessageOptions::Phone(typed(options)?),
            Kind::Push => MessageOptions::Push(typed(options)?),
            Kind::Chat => MessageOptions::Chat(typed(options)?),
            Kind::Webhook => MessageOptions::Webhook(typed(options)?),
        })
    }
}

/// Reads `options` by reference: nothing in it is copied.
fn typed<'a, T: Deserialize<'a> + Default>(options: &'a Value) -> Result<T, OptionsError> {
    if options.is_null() {
        return Ok(T::default());
    }
    serde_path_to_error::deserialize(options).map_err(|e| OptionsError {
        path: e.path().to_string(),
        message: e.inner().to_string(),
    })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::{ChatFormat, MessageOptions};
    use crate::message::Kind;

    fn error(kind: Kind, options: serde_json::Value) -> String {
        MessageOptions::parse(kind, &options)
            .unwrap_err()
            .to_string()
    }

    #[test]
    fn every_documented_option_is_read_for_its_kind() {
        let email = json!({
            "from": "A <a@example.com>", "reply_to": ["r@example.com"], "cc": "c@example.com",
            "bcc": [], "headers": {"X-A": "1"}, "attachments": [], "verbatim": true,
            "categories": ["c"], "custom_args": {"k": "v"}, "links": [], "mirror_to_chat": false,
            "digest_window": "1h"
        });
        assert!(MessageOptions::parse(Kind::Email, &email).is_ok());
        for kind in [Kind::Sms, Kind::Voice] {
            assert!(
                MessageOptions::parse(
                    kind,
                    &json!({"from": "+15005550006", "digest_window": "5m"})
                )
                .is_ok()
            );
        }
        let push = json!({"app": "a", "device_type": "ios", "title": "t", "deep_link": "x://y", "extra": {"k": 1}});
        assert!(MessageOptions::parse(Kind::Push, &push).is_ok());
        match MessageOptions::parse(Kind::Chat, &json!({"format": "html"})).unwrap() {
            MessageOptions::Chat(c) => assert_eq!(c.format, Some(ChatFormat::Html)),
            other => panic!("{other:?}"),
        }
        assert!(MessageOptions::parse(Kind::Email, &json!({})).is_ok());
        assert!(MessageOptions::parse(Kind::Email, &json!({"cc": null})).is_ok());
    }

    #[test]
    fn an_unknown_key_is_named() {
        let e = error(Kind::Email, json!({"reply_too": "r@example.com"}));
        assert!(e.contains("unknown field `reply_too`"), "{e}");
        assert!(e.contains("reply_to"), "the known keys are listed: {e}");
        // Another kind's key is unknown too.
        let e = error(Kind::Sms, json!({"deep_link": "x://y"}));
        assert!(e.contains("`deep_link`"), "{e}");
    }

    #[test]
    fn a_wrong_shape_names_the_key() {
        let e = error(Kind::Email, json!({"verbatim": "yes"}));
        assert!(e.starts_with("options.verbatim: invalid type"), "{e}");
        let e = error(Kind::Email, json!({"mirror_to_chat": 1}));
        assert!(e.starts_with("options.mirror_to_chat"), "{e}");
        let e = error(Kind::Chat, json!({"format": "markdown"}));
        assert!(
            e.starts_with("options.format: unknown variant `markdown`"),
            "{e}"
        );
        let e = error(Kind::Push, json!({"extra": [1]}));
        assert!(e.starts_with("options.extra"), "{e}");
    }
}
