//! Phone numbers: E.164 required, national numbers accepted only when a
//! default region is configured, validated with libphonenumber's data.

use phonenumber::Mode;
use phonenumber::country::Id;

/// Why a text is not a usable phone number.
#[derive(Debug, thiserror::Error)]
pub enum PhoneError {
    #[error("the phone number is empty")]
    Empty,
    #[error(
        "{0:?} is not an E.164 number (+ and country code); set twilio.default_region to accept national numbers"
    )]
    National(String),
    #[error("{text:?} is not a phone number: {source}")]
    Unparsable {
        text: String,
        #[source]
        source: phonenumber::ParseError,
    },
    #[error("{0:?} is not a valid phone number")]
    Invalid(String),
}

/// `input` as E.164 (`+353861234567`), or why it is not a phone number.
pub fn e164(input: &str, region: Option<Id>) -> Result<String, PhoneError> {
    let text = input.trim();
    if text.is_empty() {
        return Err(PhoneError::Empty);
    }
    if !text.starts_with('+') && region.is_none() {
        return Err(PhoneError::National(text.to_owned()));
    }
    let number = phonenumber::parse(region, text).map_err(|source| PhoneError::Unparsable {
        text: text.to_owned(),
        source,
    })?;
    if !phonenumber::is_valid(&number) {
        return Err(PhoneError::Invalid(text.to_owned()));
    }
    Ok(number.format().mode(Mode::E164).to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn e164_is_required_unless_a_region_is_set() {
        assert_eq!(e164(" +353 86 123 4567 ", None).unwrap(), "+353861234567");
        assert!(
            e164("086 123 4567", None)
                .unwrap_err()
                .to_string()
                .contains("not an E.164 number")
        );
        assert_eq!(e164("086 123 4567", Some(Id::IE)).unwrap(), "+353861234567");
        assert!(
            e164("+11234567890", None)
                .unwrap_err()
                .to_string()
                .contains("not a valid phone number")
        );
        assert!(e164("+3531", None).is_err());
        assert!(e164("call me", None).is_err());
        assert!(e164("", None).is_err());
        assert_eq!(e164("+40 721 234 567", None).unwrap(), "+40721234567");
    }
}
