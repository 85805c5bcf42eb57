//! Webhook signatures: SendGrid's Signed Event Webhook (ECDSA P-256 / SHA-256
//! over timestamp ‖ raw body) and Twilio's `X-Twilio-Signature` (HMAC-SHA1
//! over the URL and the sorted form parameters), both compared in constant time.

use base64::Engine as _;
use ring::{hmac, signature};

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

/// DER SubjectPublicKeyInfo header of an uncompressed P-256 key.
const P256_SPKI_PREFIX: [u8; 26] = [
    0x30, 0x59, 0x30, 0x13, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01, 0x06, 0x08, 0x2a,
    0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07, 0x03, 0x42, 0x00,
];

/// A SendGrid verification key: the EC point from its base64 DER SPKI.
#[derive(Clone, PartialEq, Eq)]
pub struct SendGridKey(Vec<u8>);

impl std::fmt::Debug for SendGridKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SendGridKey(P-256)")
    }
}

/// Why a SendGrid verification key is unusable.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("not base64: {0}")]
    Base64(#[from] base64::DecodeError),
    #[error("not an uncompressed P-256 public key in DER SubjectPublicKeyInfo form")]
    NotP256,
}

impl SendGridKey {
    /// Parses the key SendGrid shows in its settings (base64 DER SPKI, P-256).
    pub fn parse(text: &str) -> Result<Self, KeyError> {
        let der = B64.decode(text.trim())?;
        if der.len() != 91 || der[..26] != P256_SPKI_PREFIX || der[26] != 0x04 {
            return Err(KeyError::NotP256);
        }
        Ok(Self(der[26..].to_vec()))
    }

    /// Whether `signature_b64` (base64 DER ECDSA) signs `timestamp ‖ body`.
    pub fn verify(&self, timestamp: &str, body: &[u8], signature_b64: &str) -> bool {
        let Ok(sig) = B64.decode(signature_b64.trim()) else {
            return false;
        };
        let mut signed = Vec::with_capacity(timestamp.len() + body.len());
        signed.extend_from_slice(timestamp.as_bytes());
        signed.extend_from_slice(body);
        signature::UnparsedPublicKey::new(&signature::ECDSA_P256_SHA256_ASN1, &self.0)
            .verify(&signed, &sig)
            .is_ok()
    }
}

/// The SPKI (base64) for an uncompressed P-256 point: what SendGrid would show.
pub fn p256_spki_base64(point: &[u8]) -> String {
    let mut der = P256_SPKI_PREFIX.to_vec();
    der.extend_from_slice(point);
    B64.encode(der)
}

/// The string Twilio signs: the URL, then each parameter name and value in
/// byte-wise name order (values of a repeated name sorted too).
fn twilio_payload(url: &str, params: &[(String, String)]) -> String {
    let mut sorted: Vec<&(String, String)> = params.iter().collect();
    sorted.sort();
    let mut payload = url.to_owned();
    for (name, value) in sorted {
        payload.push_str(name);
        payload.push_str(value);
    }
    payload
}

/// `X-Twilio-Signature` for a form POST to `url`.
pub fn twilio_signature(auth_token: &str, url: &str, params: &[(String, String)]) -> String {
    let key = hmac::Key::new(hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY, auth_token.as_bytes());
    B64.encode(hmac::sign(&key, twilio_payload(url, params).as_bytes()).as_ref())
}

/// Whether `header` is Twilio's signature of this request. Twilio is not
/// consistent about default ports, so the URL is also tried with `:443`/`:80`
/// added or removed, as its own SDKs do.
pub fn verify_twilio(
    auth_token: &str,
    url: &str,
    params: &[(String, String)],
    header: &str,
) -> bool {
    let Ok(given) = B64.decode(header.trim()) else {
        return false;
    };
    let key = hmac::Key::new(hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY, auth_token.as_bytes());
    url_variants(url).iter().any(|candidate| {
        hmac::verify(&key, twilio_payload(candidate, params).as_bytes(), &given).is_ok()
    })
}

fn url_variants(url: &str) -> Vec<String> {
    let mut out = vec![url.to_owned()];
    for (scheme, port) in [("https://", ":443"), ("http://", ":80")] {
        let Some(rest) = url.strip_prefix(scheme) else {
            continue;
        };
        let host_end = rest.find(['/', '?']).unwrap_or(rest.len());
        let (host, tail) = rest.split_at(host_end);
        match host.strip_suffix(port) {
            Some(bare) => out.push(format!("{scheme}{bare}{tail}")),
            None if !host.contains(':') => out.push(format!("{scheme}{host}{port}{tail}")),
            None => {}
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    // SendGrid's own vector (sendgrid-python test/unit/test_eventwebhook.py).
    const SG_KEY: &str = "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE83T4O/n84iotIvIW4mdBgQ/7dAfSmpqIM8kF9mN1flpVKS3GRqe62gw+2fNNRaINXvVpiglSI8eNEc6wEA3F+g==";
    const SG_TS: &str = "1600112502";
    const SG_SIG: &str = "MEUCIGHQVtGj+Y3LkG9fLcxf3qfI10QysgDWmMOVmxG0u6ZUAiEAyBiXDWzM+uOe5W0JuG+luQAbPIqHh89M15TluLtEZtM=";
    const SG_BODY: &str = "[{\"email\":\"hello@world.com\",\"event\":\"dropped\",\"reason\":\"Bounced Address\",\"sg_event_id\":\"ZHJvcC0xMDk5NDkxOS1MUnpYbF9OSFN0T0doUTRrb2ZTbV9BLTA\",\"sg_message_id\":\"LRzXl_NHStOGhQ4kofSm_A.filterdrecv-p3mdw1-756b745b58-kmzbl-18-5F5FC76C-9.0\",\"smtp-id\":\"<LRzXl_NHStOGhQ4kofSm_A@ismtpd0039p1iad1.sendgrid.net>\",\"timestamp\":1600112492}]\r\n";

    #[test]
    fn sendgrid_vendor_vector_verifies_and_any_change_breaks_it() {
        let key = SendGridKey::parse(SG_KEY).unwrap();
        assert!(key.verify(SG_TS, SG_BODY.as_bytes(), SG_SIG));
        // Without the trailing CRLF, with a changed byte, another timestamp: no.
        assert!(!key.verify(SG_TS, SG_BODY.trim_end().as_bytes(), SG_SIG));
        let mut tampered = SG_BODY.as_bytes().to_vec();
        tampered[10] ^= 1;
        assert!(!key.verify(SG_TS, &tampered, SG_SIG));
        assert!(!key.verify("1600112503", SG_BODY.as_bytes(), SG_SIG));
        assert!(!key.verify(SG_TS, SG_BODY.as_bytes(), "not base64!"));
        assert!(SendGridKey::parse("AAAA").is_err());
    }

    fn twilio_params() -> Vec<(String, String)> {
        [
            ("CallSid", "CA1234567890ABCDE"),
            ("Caller", "+14158675309"),
            ("Digits", "1234"),
            ("From", "+14158675309"),
            ("To", "+18005551212"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect()
    }

    #[test]
    fn twilio_vendor_vector_verifies_and_any_change_breaks_it() {
        let url = "https://mycompany.com/myapp.php?foo=1&bar=2";
        let params = twilio_params();
        assert_eq!(
            twilio_signature("12345", url, &params),
            "RSOYDt4T1cUTdK1PDd93/VVr8B8="
        );
        assert!(verify_twilio(
            "12345",
            url,
            &params,
            "RSOYDt4T1cUTdK1PDd93/VVr8B8="
        ));
        assert!(verify_twilio(
            "12345",
            "https://mycompany.com:443/myapp.php?foo=1&bar=2",
            &params,
            "RSOYDt4T1cUTdK1PDd93/VVr8B8="
        ));
        assert!(!verify_twilio(
            "12346",
            url,
            &params,
            "RSOYDt4T1cUTdK1PDd93/VVr8B8="
        ));
        let mut changed = params.clone();
        changed[2].1 = "1235".into();
        assert!(!verify_twilio(
            "12345",
            url,
            &changed,
            "RSOYDt4T1cUTdK1PDd93/VVr8B8="
        ));
        assert!(!verify_twilio(
            "12345",
            url,
            &params,
            "RSOYDt4T1cUTdK1PDd93/VVr8B9="
        ));
        assert!(!verify_twilio("12345", url, &params, ""));
    }
}
