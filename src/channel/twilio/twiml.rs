//! Voice: the `<Say>` language and voice for a message's language, and the
//! inline TwiML that reads the text out, XML-escaped.

use std::collections::HashMap;

use crate::config::Voice;
use crate::render::catalog::normalise;

/// The voice to use, and a note when it is a fallback.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Chosen {
    pub voice: Voice,
    pub note: Option<String>,
}

/// A locale no configured voice reads.
#[derive(Debug, thiserror::Error)]
#[error("voice language {0} not supported")]
pub struct Unsupported(pub String);

/// The voice for `locale`: exact (`pt-br`), then the language (`pt`); else the
/// default language's, only if `fallback` allows it.
pub fn choose(
    voices: &HashMap<String, Voice>,
    locale: &str,
    fallback: bool,
    default_language: &str,
) -> Result<Chosen, Unsupported> {
    let wanted = normalise(locale);
    let base = wanted.split('-').next().unwrap_or_default().to_owned();
    if let Some(voice) = voices.get(&wanted).or_else(|| voices.get(&base)) {
        return Ok(Chosen {
            voice: voice.clone(),
            note: None,
        });
    }
    match voices.get(default_language) {
        Some(voice) if fallback => Ok(Chosen {
            voice: voice.clone(),
            note: Some(format!(
                "voice language {locale} not supported; read in {} with {} (twilio.voice_fallback)",
                voice.language, voice.voice
            )),
        }),
        _ => Err(Unsupported(locale.to_owned())),
    }
}

/// XML-escapes text and attribute values.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c if c.is_control() && c != '\n' && c != '\t' => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

/// `<Response><Say language=… voice=…>text</Say></Response>`.
pub fn say(text: &str, voice: &Voice) -> String {
    format!(
        "<Response><Say language=\"{}\" voice=\"{}\">{}</Say></Response>",
        escape(&voice.language),
        escape(&voice.voice),
        escape(text)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn voices() -> HashMap<String, Voice> {
        [
            ("en", "en-US", "Polly.Joanna"),
            ("ro", "ro-RO", "Polly.Carmen"),
            ("de", "de-DE", "Polly.Marlene"),
        ]
        .into_iter()
        .map(|(k, l, v)| {
            (
                k.to_owned(),
                Voice {
                    language: l.into(),
                    voice: v.into(),
                },
            )
        })
        .collect()
    }

    #[test]
    fn romanian_and_german_have_voices_and_regions_fall_back_to_the_language() {
        let v = voices();
        assert_eq!(
            choose(&v, "ro", false, "en").unwrap().voice.voice,
            "Polly.Carmen"
        );
        assert_eq!(
            choose(&v, "de_AT", false, "en").unwrap().voice.language,
            "de-DE"
        );
        assert_eq!(choose(&v, "RO-ro", false, "en").unwrap().note, None);
    }

    #[test]
    fn unsupported_languages_fail_or_fall_back_visibly() {
        let v = voices();
        assert_eq!(
            choose(&v, "hu", false, "en").unwrap_err().to_string(),
            "voice language hu not supported"
        );
        let chosen = choose(&v, "hu", true, "en").unwrap();
        assert_eq!(chosen.voice.language, "en-US");
        assert!(
            chosen
                .note
                .unwrap()
                .contains("voice language hu not supported")
        );
    }

    #[test]
    fn twiml_is_escaped_and_well_formed() {
        let voice = Voice {
            language: "ro-RO".into(),
            voice: "Polly.Carmen".into(),
        };
        let xml = say("Tom & Jerry <say> \"hi\" it's", &voice);
        assert_eq!(
            xml,
            "<Response><Say language=\"ro-RO\" voice=\"Polly.Carmen\">Tom &amp; Jerry &lt;say&gt; &quot;hi&quot; it&apos;s</Say></Response>"
        );
        // Only the four tags open with '<'; the text cannot inject markup.
        assert_eq!(xml.matches('<').count(), 4);
    }
}
