//! SMS segment counting: GSM-7 (160 septets, 153 per part when split; the
//! extension characters take two) or UCS-2 (70 UTF-16 units, 67 per part).

/// The encoding a carrier will use for a text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    Gsm7,
    Ucs2,
}

impl Encoding {
    pub fn as_str(self) -> &'static str {
        match self {
            Encoding::Gsm7 => "GSM-7",
            Encoding::Ucs2 => "UCS-2",
        }
    }
}

/// How a text will be billed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Segments {
    pub encoding: Encoding,
    /// Septets (GSM-7) or UTF-16 code units (UCS-2).
    pub units: usize,
    pub count: u32,
}

const GSM7_BASIC: &str = "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà";
const GSM7_EXTENSION: &str = "^{}\\[~]|€\u{0C}";

/// Counts the segments of `text`.
pub fn count(text: &str) -> Segments {
    let mut septets = 0usize;
    let mut gsm = true;
    for c in text.chars() {
        if GSM7_BASIC.contains(c) {
            septets += 1;
        } else if GSM7_EXTENSION.contains(c) {
            septets += 2;
        } else {
            gsm = false;
            break;
        }
    }
    let (encoding, units, single, part) = if gsm {
        (Encoding::Gsm7, septets, 160, 153)
    } else {
        (Encoding::Ucs2, text.encode_utf16().count(), 70, 67)
    };
    let count = if units <= single {
        1
    } else {
        units.div_ceil(part)
    };
    Segments {
        encoding,
        units,
        count: count as u32,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gsm7_limits() {
        assert_eq!(
            count(&"a".repeat(160)),
            Segments {
                encoding: Encoding::Gsm7,
                units: 160,
                count: 1
            }
        );
        assert_eq!(count(&"a".repeat(161)).count, 2);
        assert_eq!(count(&"a".repeat(306)).count, 2);
        assert_eq!(count(&"a".repeat(307)).count, 3);
        // Extension characters take two septets.
        assert_eq!(count(&"€".repeat(80)).units, 160);
        assert_eq!(count(&"€".repeat(81)).count, 2);
        assert_eq!(count("Ce faceți? Ședință la 9").encoding, Encoding::Ucs2);
    }

    #[test]
    fn ucs2_limits() {
        assert_eq!(
            count(&"ș".repeat(70)),
            Segments {
                encoding: Encoding::Ucs2,
                units: 70,
                count: 1
            }
        );
        assert_eq!(count(&"ș".repeat(71)).count, 2);
        assert_eq!(count(&"ș".repeat(134)).count, 2);
        assert_eq!(count(&"ș".repeat(135)).count, 3);
        // An emoji is two UTF-16 units.
        assert_eq!(count("👍").units, 2);
    }
}
