//! Which of a message's recipients are suppressed: the claim returns the
//! suppressed addresses among all of them (to, lists included, cc, bcc); this
//! decides whether the message is sent at all and to whom not.

use crate::message::{ClaimedMessage, Kind};

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
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// No recipient is suppressed.
    Clear,
    /// Every primary recipient is suppressed: nothing is sent.
    All,
    /// These suppressed recipients are left out; the others get the message.
    Some(Vec<String>),
}

/// Decides for `message`, whose primary recipients are `to` (a comma-separated
/// list for e-mail).
pub fn verdict(message: &ClaimedMessage, to: &str) -> Verdict {
    if message.suppressed.is_empty() {
        return Verdict::Clear;
    }
    if message.kind != Kind::Email {
        return Verdict::All;
    }
    let primary: Vec<String> = to
        .split(',')
        .filter(|s| !s.trim().is_empty())
        .map(normalize)
        .collect();
    if primary.iter().all(|a| message.suppressed.contains(a)) {
        Verdict::All
    } else {
        Verdict::Some(message.suppressed.clone())
    }
}

/// Whether `address` is one of `message`'s suppressed recipients.
pub fn is_suppressed(message: &ClaimedMessage, address: &str) -> bool {
    !message.suppressed.is_empty() && message.suppressed.contains(&normalize(address))
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
