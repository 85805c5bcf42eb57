//! Text made safe to show: recipients' addresses masked before an error goes
//! to an INFO log, and credentials masked before a provider's error body
//! becomes `last_error` or a log line.

/// What a masked address or number becomes.
const ADDRESS: &str = "<address>";
const NUMBER: &str = "<number>";
const SECRET: &str = "[redacted]";

fn local_part(c: char) -> bool {
    c.is_ascii_alphanumeric() || "!#$%&'*+/=?^_`{|}~.-".contains(c)
}

fn domain_part(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '.' || c == '-'
}

/// `text` with e-mail addresses (`local@domain.tld`) and phone numbers (a
/// `+` and 7 or more digits, or 8 or more digits standing alone) masked.
pub fn addresses(text: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if local_part(c) && (i == 0 || !local_part(chars[i - 1])) {
            // A word that may be an address: local@domain with a dot in the domain.
            let mut end = i;
            while end < chars.len() && local_part(chars[end]) {
                end += 1;
            }
            if end < chars.len() && chars[end] == '@' {
                let mut domain_end = end + 1;
                while domain_end < chars.len() && domain_part(chars[domain_end]) {
                    domain_end += 1;
                }
                let domain: String = chars[end + 1..domain_end].iter().collect();
                let domain = domain.trim_end_matches('.');
                if domain.contains('.') {
                    out.push_str(ADDRESS);
                    i = end + 1 + domain.chars().count();
                    continue;
                }
            }
        }
        let standalone = i == 0 || !chars[i - 1].is_ascii_alphanumeric();
        if standalone && (c == '+' || c.is_ascii_digit()) {
            let start = if c == '+' { i + 1 } else { i };
            let mut end = start;
            while end < chars.len() && chars[end].is_ascii_digit() {
                end += 1;
            }
            let digits = end - start;
            let ends_alone = end == chars.len() || !chars[end].is_ascii_alphanumeric();
            let long_enough = if c == '+' { digits >= 7 } else { digits >= 8 };
            if ends_alone && long_enough {
                out.push_str(NUMBER);
                i = end;
                continue;
            }
        }
        out.push(c);
        i += 1;
    }
    out
}

/// `text` with every non-empty `secret` masked, and the value after any
/// `Bearer `, `Basic ` or `Authorization:` masked too (a provider echoing
/// the request's credentials back).
pub fn credentials(text: &str, secrets: &[&str]) -> String {
    let mut out = text.to_owned();
    for secret in secrets.iter().filter(|s| !s.is_empty()) {
        out = out.replace(secret, SECRET);
    }
    for scheme in [
        "bearer ",
        "basic ",
        "authorization: ",
        "authorization:",
        "authorization=",
    ] {
        out = mask_after(&out, scheme);
    }
    out
}

/// Masks the token after each case-insensitive occurrence of `marker`.
fn mask_after(text: &str, marker: &str) -> String {
    let lower = text.to_ascii_lowercase();
    let mut out = String::with_capacity(text.len());
    let mut from = 0;
    while let Some(found) = lower[from..].find(marker) {
        let start = from + found + marker.len();
        out.push_str(&text[from..start]);
        let rest = &text[start..];
        if rest.starts_with(SECRET) {
            out.push_str(SECRET);
            from = start + SECRET.len();
            continue;
        }
        let end = rest
            .find(|c: char| c.is_whitespace() || matches!(c, '"' | '\'' | ',' | ';' | '}' | ']'))
            .unwrap_or(rest.len());
        let token = &rest[..end];
        let kept = token.eq_ignore_ascii_case("bearer") || token.eq_ignore_ascii_case("basic");
        if end > 0 && !kept {
            out.push_str(SECRET);
        } else {
            out.push_str(token);
        }
        from = start + end;
    }
    out.push_str(&text[from..]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_and_numbers_are_masked_codes_are_not() {
        assert_eq!(
            addresses("550 5.1.1 <Ann.Lee+x@mail.example.com>: no such user"),
            "550 5.1.1 <<address>>: no such user"
        );
        assert_eq!(
            addresses("ann@example.com is on the suppression list"),
            "<address> is on the suppression list"
        );
        assert_eq!(
            addresses("Twilio error 21211: The 'To' number +353861234567 is not valid"),
            "Twilio error 21211: The 'To' number <number> is not valid"
        );
        assert_eq!(addresses("call 0861234567 now"), "call <number> now");
        assert_eq!(
            addresses("SendGrid 400: SM0123456789abcdef at 2026-11-25"),
            "SendGrid 400: SM0123456789abcdef at 2026-11-25"
        );
        assert_eq!(addresses("user@localhost ok"), "user@localhost ok");
    }

    #[test]
    fn credentials_are_masked() {
        assert_eq!(
            credentials(
                r#"{"error":"bad header Authorization: Bearer SG.abc.def","key":"SG.abc.def"}"#,
                &["SG.abc.def"]
            ),
            r#"{"error":"bad header Authorization: Bearer [redacted]","key":"[redacted]"}"#
        );
        assert_eq!(
            credentials("sent basic QUM6dG9rZW4= for tok3n", &["tok3n"]),
            "sent basic [redacted] for [redacted]"
        );
        assert_eq!(credentials("nothing here", &[""]), "nothing here");
    }
}
