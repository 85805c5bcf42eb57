//! Received text made storable: PostgreSQL `text` and `jsonb` cannot hold a
//! NUL character, so a NUL is replaced with U+FFFD and the fields where that
//! happened are named in a note stored alongside.

use serde_json::Value;

/// The replacement for NUL.
const REPLACEMENT: &str = "\u{FFFD}";

/// Replaces NUL in `text`; true when there was one.
pub fn text(text: &mut String) -> bool {
    if !text.contains('\0') {
        return false;
    }
    *text = text.replace('\0', REPLACEMENT);
    true
}

/// As [`text`], for an optional field.
pub fn optional(field: &mut Option<String>) -> bool {
    field.as_mut().is_some_and(text)
}

/// Replaces NUL in every string and object key of `value`; true when there was one.
pub fn json(value: &mut Value) -> bool {
    match value {
        Value::String(s) => text(s),
        Value::Array(items) => items.iter_mut().fold(false, |found, v| json(v) | found),
        Value::Object(map) => {
            let mut found = false;
            if map.keys().any(|k| k.contains('\0')) {
                let entries = std::mem::take(map);
                for (mut key, v) in entries {
                    found |= text(&mut key);
                    map.insert(key, v);
                }
            }
            map.values_mut().fold(found, |found, v| json(v) | found)
        }
        _ => false,
    }
}

/// Collects the names of fields that needed a replacement.
#[derive(Debug, Default)]
pub struct Replaced(Vec<String>);

impl Replaced {
    /// Records `name` when `changed`.
    pub fn check(&mut self, name: &str, changed: bool) {
        if changed && !self.0.iter().any(|n| n == name) {
            self.0.push(name.to_owned());
        }
    }

    /// "NUL bytes replaced with U+FFFD in: a, b", or None when nothing changed.
    pub fn note(&self) -> Option<String> {
        (!self.0.is_empty())
            .then(|| format!("NUL bytes replaced with U+FFFD in: {}", self.0.join(", ")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nul_is_replaced_everywhere_and_named() {
        let mut s = "a\0b".to_owned();
        assert!(text(&mut s));
        assert_eq!(s, "a\u{FFFD}b");
        let mut v = serde_json::json!({"k\u{0}": ["x\u{0}", 1], "ok": "fine"});
        assert!(json(&mut v));
        assert_eq!(
            v,
            serde_json::json!({"k\u{FFFD}": ["x\u{FFFD}", 1], "ok": "fine"})
        );
        let mut clean = serde_json::json!({"ok": ["fine"]});
        assert!(!json(&mut clean));
        let mut r = Replaced::default();
        r.check("subject", true);
        r.check("text", false);
        r.check("subject", true);
        assert_eq!(
            r.note().as_deref(),
            Some("NUL bytes replaced with U+FFFD in: subject")
        );
    }
}
