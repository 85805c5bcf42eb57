//! Digests: a claimed message that carries other messages of its group
//! (same recipient, kind and `digest_key`) becomes one send. With a template
//! NAME it is rendered by NAME.digest (e.g. `NAME.digest.txt`/`.html`,
//! `NAME.digest.sms.txt`) given `items` (each member's id, subject, body,
//! context and created_at, oldest first) and `count`; without one its text is
//! the members' bodies, one paragraph each.

use crate::message::ClaimedMessage;

/// `message` ready to send as the digest it leads; unchanged when it leads none.
pub fn combine(mut message: ClaimedMessage) -> ClaimedMessage {
    let Some(items) = message.controls.digest.clone() else {
        return message;
    };
    match message
        .template
        .as_deref()
        .map(str::trim)
        .filter(|t| !t.is_empty())
    {
        Some(template) => {
            message.template = Some(format!("{template}.digest"));
            let mut context = message.context.as_object().cloned().unwrap_or_default();
            context.insert("count".into(), items.len().into());
            context.insert("items".into(), items.into());
            message.context = serde_json::Value::Object(context);
        }
        None => {
            let bodies: Vec<&str> = items
                .iter()
                .filter_map(|item| item.get("body")?.as_str())
                .collect();
            message.body = Some(bodies.join("\n\n"));
            message.html = None;
        }
    }
    message
}
