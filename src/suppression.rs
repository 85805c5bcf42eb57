//! What the suppression list means for a message: the claim decides it
//! (`message_shape.sql`: the suppressed addresses among all its recipients,
//! to, lists included, cc and bcc, and whether every primary recipient is
//! one); this is that verdict as a type, and the address match the e-mail
//! composer applies it with.

/// An address as `outpost.normalize_address` stores it: the part inside
/// `<…>` when there is one, trimmed and lower-cased.
pub fn normalize(address: &str) -> String {
    let inner = match (address.find('<'), address.rfind('>')) {
        (Some(open), Some(close)) if open < close => &address[open + 1..close],
        _ => address,
    };
    inner.trim().to_lowercase()
}

/// What suppression means for one message.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Verdict {
    /// No recipient is suppressed.
    #[default]
    Clear,
    /// Every primary recipient is suppressed (these are): nothing is sent.
    All(Vec<String>),
    /// These suppressed recipients are left out; the others get the message.
    Some(Vec<String>),
}

impl Verdict {
    /// The verdict the claim computed: the suppressed addresses among the
    /// message's recipients, and whether every primary recipient is one.
    pub fn from_claim(suppressed: Vec<String>, all: bool) -> Self {
        match (suppressed.is_empty(), all) {
            (true, _) => Verdict::Clear,
            (false, true) => Verdict::All(suppressed),
            (false, false) => Verdict::Some(suppressed),
        }
    }

    /// Whether `address` (as written: `Name <a@b>` or a bare address) is a
    /// suppressed recipient to leave out.
    pub fn leaves_out(&self, address: &str) -> bool {
        match self {
            Verdict::Clear => false,
            Verdict::All(_) => true,
            Verdict::Some(list) => list.contains(&normalize(address)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalizes_as_the_database_does() {
        assert_eq!(normalize(" Bob <Bob@X.example> "), "bob@x.example");
        assert_eq!(normalize("SUPP@b.example "), "supp@b.example");
        assert_eq!(normalize("+15005550006"), "+15005550006");
    }
}
