//! The original system's environment names (Django settings), mapped onto
//! Outpost's keys so its deployments can switch without editing.

/// `(legacy name, Outpost environment name)` pairs for plain values.
const NAMES: &[(&str, &str)] = &[
    ("SENDGRID_API_KEY", "OUTPOST__EMAIL__SENDGRID__API_KEY"),
    ("EMAIL_HOST", "OUTPOST__EMAIL__SMTP__HOST"),
    ("EMAIL_PORT", "OUTPOST__EMAIL__SMTP__PORT"),
    ("EMAIL_HOST_USER", "OUTPOST__EMAIL__SMTP__USERNAME"),
    ("EMAIL_HOST_PASSWORD", "OUTPOST__EMAIL__SMTP__PASSWORD"),
    ("DEFAULT_FROM_EMAIL", "OUTPOST__EMAIL__FROM"),
    ("TWILIO_ACCOUNT_SID", "OUTPOST__TWILIO__ACCOUNT_SID"),
    ("TWILIO_AUTH_TOKEN", "OUTPOST__TWILIO__AUTH_TOKEN"),
    ("URBANAIRSHIP_APP_KEY", "OUTPOST__PUSH__APP_KEY"),
    ("URBANAIRSHIP_MASTER_SECRET", "OUTPOST__PUSH__MASTER_SECRET"),
];

/// Django's `EMAIL_BACKEND` class paths and the backend each means.
pub const BACKENDS: &[(&str, &str)] = &[
    ("sendgrid_backend.SendgridBackend", "sendgrid"),
    ("django.core.mail.backends.smtp.EmailBackend", "smtp"),
    ("emails.backends.CustomSMTPBackend", "smtp_db"),
    ("django.core.mail.backends.console.EmailBackend", "console"),
];

/// Translates the legacy variables present in `env` into `OUTPOST__…` pairs.
/// Values Outpost cannot understand are passed through, so validation names them.
pub fn translate(env: &[(String, String)]) -> Vec<(String, String)> {
    let exact = |name: &str| env.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str());
    let get = |name: &str| exact(name).map(str::trim);
    let mut out = Vec::new();
    // Plain values pass through exactly as written (a password may end in a space).
    for (legacy, key) in NAMES {
        if let Some(value) = exact(legacy) {
            out.push((key.to_string(), value.to_owned()));
        }
    }
    if let Some(value) = get("EMAIL_BACKEND") {
        let backend = BACKENDS
            .iter()
            .find(|(path, _)| *path == value)
            .map_or(value, |(_, name)| name);
        out.push(("OUTPOST__EMAIL__BACKEND".into(), backend.to_owned()));
    }
    for (legacy, key) in [
        ("EMAIL_USE_TLS", "OUTPOST__EMAIL__SMTP__USE_TLS"),
        ("EMAIL_USE_SSL", "OUTPOST__EMAIL__SMTP__USE_SSL"),
    ] {
        if let Some(value) = get(legacy) {
            out.push((key.into(), python_bool(value)));
        }
    }
    if let Some(value) = get("EMAIL_TIMEOUT") {
        // Django counts seconds; Outpost writes durations with a unit.
        let seconds = value
            .parse::<f64>()
            .ok()
            .filter(|s| s.is_finite() && *s >= 0.0);
        out.push((
            "OUTPOST__EMAIL__SMTP__TIMEOUT".into(),
            seconds.map_or(value.to_owned(), |s| format!("{}ms", (s * 1000.0) as u64)),
        ));
    }
    out
}

/// Python's spellings of booleans in settings files: True/False, 1/0, yes/no.
fn python_bool(value: &str) -> String {
    match value.to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" | "on" => "true".into(),
        "false" | "0" | "no" | "off" | "" | "none" => "false".into(),
        _ => value.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::translate;

    fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn django_settings_map_onto_outpost_keys() {
        let out = translate(&env(&[
            ("EMAIL_BACKEND", "emails.backends.CustomSMTPBackend"),
            ("EMAIL_USE_TLS", "False"),
            ("EMAIL_USE_SSL", "True"),
            ("EMAIL_TIMEOUT", "60"),
            ("EMAIL_PORT", "465"),
        ]));
        let get = |k: &str| {
            out.iter()
                .find(|(key, _)| key == k)
                .map(|(_, v)| v.as_str())
        };
        assert_eq!(get("OUTPOST__EMAIL__BACKEND"), Some("smtp_db"));
        assert_eq!(get("OUTPOST__EMAIL__SMTP__USE_TLS"), Some("false"));
        assert_eq!(get("OUTPOST__EMAIL__SMTP__USE_SSL"), Some("true"));
        assert_eq!(get("OUTPOST__EMAIL__SMTP__TIMEOUT"), Some("60000ms"));
        assert_eq!(get("OUTPOST__EMAIL__SMTP__PORT"), Some("465"));
    }
}
