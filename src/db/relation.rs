//! A relation (table or view) name from the configuration, checked and quoted
//! so it can be spliced into a statement.

use std::fmt;

/// A validated, quoted relation name such as `"outpost"."recipients"`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Relation {
    written: String,
    quoted: String,
}

impl Relation {
    /// Accepts `name` or `schema.name` made of letters, digits and underscores.
    pub fn parse(written: &str) -> Option<Self> {
        let parts: Vec<&str> = written.split('.').collect();
        let valid = |p: &str| {
            !p.is_empty()
                && p.len() <= 63
                && !p.starts_with(|c: char| c.is_ascii_digit())
                && p.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        };
        if parts.is_empty() || parts.len() > 2 || !parts.iter().all(|p| valid(p)) {
            return None;
        }
        let quoted = parts
            .iter()
            .map(|p| format!("\"{p}\""))
            .collect::<Vec<_>>()
            .join(".");
        Some(Self {
            written: written.to_owned(),
            quoted,
        })
    }

    /// The name safe to splice into SQL.
    pub fn quoted(&self) -> &str {
        &self.quoted
    }
}

impl fmt::Display for Relation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.written)
    }
}
