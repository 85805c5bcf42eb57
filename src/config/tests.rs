//! Every string setting reaches the code exactly as written, from every
//! source; numeric, boolean and duration keys still parse from text.

use std::time::Duration;

use super::{Config, RawConfig, Sources};

/// Values that a parser eager to find numbers or booleans would mangle.
const TRICKY: &[&str] = &[
    "+15005550006",
    "007",
    "0123",
    "00777",
    "1e3",
    "1.50",
    "-0",
    "true",
    "False",
    "nan",
    "inf",
    "0x1F",
    " padded ",
];

type Getter = fn(&RawConfig) -> String;

/// `(key, OUTPOST__ name, legacy name, read it back)` for every string key.
const KEYS: &[(&str, &str, Option<&str>, Getter)] = &[
    (
        "database.recipients",
        "OUTPOST__DATABASE__RECIPIENTS",
        None,
        |r| r.database.recipients.clone(),
    ),
    ("http.listen", "OUTPOST__HTTP__LISTEN", None, |r| {
        r.http.listen.clone()
    }),
    (
        "webhooks.inbound_username",
        "OUTPOST__WEBHOOKS__INBOUND_USERNAME",
        None,
        |r| r.webhooks.inbound_username.clone(),
    ),
    (
        "webhooks.inbound_password",
        "OUTPOST__WEBHOOKS__INBOUND_PASSWORD",
        None,
        |r| r.webhooks.inbound_password.expose().to_owned(),
    ),
    ("ops.listen", "OUTPOST__OPS__LISTEN", None, |r| {
        r.ops.listen.clone()
    }),
    (
        "ops.metrics_token",
        "OUTPOST__OPS__METRICS_TOKEN",
        None,
        |r| r.ops.metrics_token.expose().to_owned(),
    ),
    (
        "webhooks.sendgrid_public_key",
        "OUTPOST__WEBHOOKS__SENDGRID_PUBLIC_KEY",
        None,
        |r| r.webhooks.sendgrid_public_key.clone(),
    ),
    (
        "twilio.account_sid",
        "OUTPOST__TWILIO__ACCOUNT_SID",
        Some("TWILIO_ACCOUNT_SID"),
        |r| r.twilio.account_sid.clone(),
    ),
    (
        "twilio.auth_token",
        "OUTPOST__TWILIO__AUTH_TOKEN",
        Some("TWILIO_AUTH_TOKEN"),
        |r| r.twilio.auth_token.expose().to_owned(),
    ),
    (
        "twilio.public_url",
        "OUTPOST__TWILIO__PUBLIC_URL",
        None,
        |r| r.twilio.public_url.clone(),
    ),
    ("twilio.from", "OUTPOST__TWILIO__FROM", None, |r| {
        r.twilio.from.clone()
    }),
    (
        "twilio.messaging_service_sid",
        "OUTPOST__TWILIO__MESSAGING_SERVICE_SID",
        None,
        |r| r.twilio.messaging_service_sid.clone(),
    ),
    ("twilio.base_url", "OUTPOST__TWILIO__BASE_URL", None, |r| {
        r.twilio.base_url.clone()
    }),
    (
        "twilio.default_region",
        "OUTPOST__TWILIO__DEFAULT_REGION",
        None,
        |r| r.twilio.default_region.clone(),
    ),
    (
        "twilio.voice_default_language",
        "OUTPOST__TWILIO__VOICE_DEFAULT_LANGUAGE",
        None,
        |r| r.twilio.voice_default_language.clone(),
    ),
    ("templates.dir", "OUTPOST__TEMPLATES__DIR", None, |r| {
        r.templates.dir.clone()
    }),
    ("locale.default", "OUTPOST__LOCALE__DEFAULT", None, |r| {
        r.locale.default.clone()
    }),
    ("locale.dir", "OUTPOST__LOCALE__DIR", None, |r| {
        r.locale.dir.clone()
    }),
    ("email.backend", "OUTPOST__EMAIL__BACKEND", None, |r| {
        r.email.backend.clone()
    }),
    ("email.fallback", "OUTPOST__EMAIL__FALLBACK", None, |r| {
        r.email.fallback.clone()
    }),
    (
        "email.from",
        "OUTPOST__EMAIL__FROM",
        Some("DEFAULT_FROM_EMAIL"),
        |r| r.email.from.clone(),
    ),
    (
        "email.smtp.host",
        "OUTPOST__EMAIL__SMTP__HOST",
        Some("EMAIL_HOST"),
        |r| r.email.smtp.host.clone(),
    ),
    (
        "email.smtp.username",
        "OUTPOST__EMAIL__SMTP__USERNAME",
        Some("EMAIL_HOST_USER"),
        |r| r.email.smtp.username.clone(),
    ),
    (
        "email.smtp.password",
        "OUTPOST__EMAIL__SMTP__PASSWORD",
        Some("EMAIL_HOST_PASSWORD"),
        |r| r.email.smtp.password.expose().to_owned(),
    ),
    (
        "email.smtp.ca_file",
        "OUTPOST__EMAIL__SMTP__CA_FILE",
        None,
        |r| r.email.smtp.ca_file.clone(),
    ),
    (
        "email.sendgrid.api_key",
        "OUTPOST__EMAIL__SENDGRID__API_KEY",
        Some("SENDGRID_API_KEY"),
        |r| r.email.sendgrid.api_key.expose().to_owned(),
    ),
    (
        "email.sendgrid.base_url",
        "OUTPOST__EMAIL__SENDGRID__BASE_URL",
        None,
        |r| r.email.sendgrid.base_url.clone(),
    ),
    ("sms.backend", "OUTPOST__SMS__BACKEND", None, |r| {
        r.sms.backend.clone()
    }),
    ("voice.backend", "OUTPOST__VOICE__BACKEND", None, |r| {
        r.voice.backend.clone()
    }),
    ("push.backend", "OUTPOST__PUSH__BACKEND", None, |r| {
        r.push.backend.clone()
    }),
    (
        "push.app_key",
        "OUTPOST__PUSH__APP_KEY",
        Some("URBANAIRSHIP_APP_KEY"),
        |r| r.push.app_key.clone(),
    ),
    (
        "push.master_secret",
        "OUTPOST__PUSH__MASTER_SECRET",
        Some("URBANAIRSHIP_MASTER_SECRET"),
        |r| r.push.master_secret.expose().to_owned(),
    ),
    ("push.base_url", "OUTPOST__PUSH__BASE_URL", None, |r| {
        r.push.base_url.clone()
    }),
    ("chat.backend", "OUTPOST__CHAT__BACKEND", None, |r| {
        r.chat.backend.clone()
    }),
    (
        "housekeeping.purge_messages",
        "OUTPOST__HOUSEKEEPING__PURGE_MESSAGES",
        None,
        |r| r.housekeeping.purge_messages.clone(),
    ),
    (
        "housekeeping.purge_events",
        "OUTPOST__HOUSEKEEPING__PURGE_EVENTS",
        None,
        |r| r.housekeeping.purge_events.clone(),
    ),
    (
        "housekeeping.purge_inbound",
        "OUTPOST__HOUSEKEEPING__PURGE_INBOUND",
        None,
        |r| r.housekeeping.purge_inbound.clone(),
    ),
    (
        "housekeeping.expire",
        "OUTPOST__HOUSEKEEPING__EXPIRE",
        None,
        |r| r.housekeeping.expire.clone(),
    ),
    (
        "housekeeping.schedules",
        "OUTPOST__HOUSEKEEPING__SCHEDULES",
        None,
        |r| r.housekeeping.schedules.clone(),
    ),
    ("log.level", "OUTPOST__LOG__LEVEL", None, |r| {
        r.log.level.clone()
    }),
    ("log.format", "OUTPOST__LOG__FORMAT", None, |r| {
        r.log.format.clone()
    }),
];

fn load_env(pairs: &[(&str, &str)]) -> RawConfig {
    let env = pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    RawConfig::load(&Sources { file: None, env }).unwrap()
}

#[test]
fn every_string_key_keeps_its_value_from_every_source() {
    let dir = tempfile::tempdir().unwrap();
    for (key, env_name, legacy, get) in KEYS {
        for value in TRICKY {
            assert_eq!(
                get(&load_env(&[(env_name, value)])),
                *value,
                "{env_name}={value:?}"
            );
            if let Some(legacy) = legacy {
                assert_eq!(
                    get(&load_env(&[(legacy, value)])),
                    *value,
                    "{legacy}={value:?}"
                );
            }
            let file = dir.path().join("outpost.toml");
            let line = format!("{key} = {}\n", toml::Value::String(value.to_string()));
            std::fs::write(&file, &line).unwrap();
            let raw = RawConfig::load(&Sources {
                file: Some(&file),
                env: Vec::new(),
            })
            .unwrap();
            assert_eq!(get(&raw), *value, "TOML {line:?}");
        }
    }
}

#[test]
fn numbers_booleans_and_durations_still_parse_from_the_environment() {
    let raw = load_env(&[
        ("OUTPOST__EMAIL__SMTP__PORT", "0587"),
        ("OUTPOST__EMAIL__SMTP__USE_TLS", "true"),
        ("OUTPOST__DISPATCH__BATCH_SIZE", "250"),
        ("OUTPOST__DISPATCH__LEASE", "90s"),
        ("OUTPOST__DISPATCH__KIND_CONCURRENCY__SMS", "3"),
        ("OUTPOST__CHAT__MIRROR_EMAIL", "false"),
        ("EMAIL_PORT", "465"),
        ("EMAIL_USE_SSL", "True"),
    ]);
    assert_eq!(raw.email.smtp.port, 587);
    assert!(raw.email.smtp.use_tls);
    assert!(raw.email.smtp.use_ssl);
    assert_eq!(raw.dispatch.batch_size, 250);
    assert_eq!(raw.dispatch.lease, Duration::from_secs(90));
    assert_eq!(raw.dispatch.kind_concurrency["sms"], 3);
    assert!(!raw.chat.mirror_email);

    // A numeric key given something else is an error naming it.
    let env = vec![("OUTPOST__EMAIL__SMTP__PORT".to_owned(), "25x".to_owned())];
    let err = RawConfig::load(&Sources { file: None, env })
        .unwrap_err()
        .to_string();
    assert!(err.contains("email.smtp.port"), "{err}");
}

#[test]
fn the_operations_listener_is_apart_from_the_others_and_its_token_never_printed() {
    let load = |pairs: &[(&str, &str)]| Config::validate(load_env(pairs));
    let err = load(&[("OUTPOST__OPS__LISTEN", "127.0.0.1:8025")])
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("ops.listen") && err.contains("webhook port"),
        "{err}"
    );
    let err = load(&[
        ("OUTPOST__CONSOLE__ENABLED", "true"),
        ("OUTPOST__OPS__LISTEN", "0.0.0.0:8026"),
    ])
    .unwrap_err()
    .to_string();
    assert!(err.contains("console's port"), "{err}");
    let err = load(&[("OUTPOST__OPS__REFRESH_INTERVAL", "500ms")])
        .unwrap_err()
        .to_string();
    assert!(err.contains("ops.refresh_interval"), "{err}");
    let err = load(&[("OUTPOST__CONSOLE__MAX_CONNECTIONS", "0")])
        .unwrap_err()
        .to_string();
    assert!(err.contains("console.max_connections"), "{err}");

    let config = load(&[("OUTPOST__OPS__METRICS_TOKEN", "tok-3141592653")]).unwrap();
    assert_eq!(
        config.ops.metrics_token.as_ref().map(|t| t.expose()),
        Some("tok-3141592653")
    );
    let printed = toml::to_string(&config.raw).unwrap();
    assert!(!printed.contains("tok-3141592653"), "{printed}");
    assert!(format!("{config:?}").contains("ops"));
    assert!(!format!("{config:?}").contains("tok-3141592653"));
}

#[test]
fn phone_prefixes_are_checked_and_an_empty_list_is_a_warning() {
    use crate::message::Kind;
    let open = Config::load(&Sources::default()).unwrap();
    assert!(
        open.warnings()
            .iter()
            .any(|w| w.contains("limits.phone_prefixes"))
    );
    assert!(open.limits.allows(Kind::Sms, "+447700900123"));

    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("outpost.toml");
    std::fs::write(&file, "[limits]\nphone_prefixes = [\"+353\", \"+1\"]\n").unwrap();
    let limited = Config::load(&Sources {
        file: Some(&file),
        env: Vec::new(),
    })
    .unwrap();
    assert!(limited.warnings().is_empty());
    assert!(limited.limits.allows(Kind::Sms, "+353861234567"));
    assert!(limited.limits.allows(Kind::Voice, "+15005550006"));
    assert!(!limited.limits.allows(Kind::Sms, "+447700900123"));
    assert!(limited.limits.allows(Kind::Email, "ann@example.com"));

    std::fs::write(&file, "[limits]\nphone_prefixes = [\"353\"]\n").unwrap();
    let error = Config::load(&Sources {
        file: Some(&file),
        env: Vec::new(),
    })
    .unwrap_err()
    .to_string();
    assert!(error.contains("limits.phone_prefixes"), "{error}");
}

#[test]
fn daily_caps_are_read_per_tenant_and_kind() {
    use crate::message::Kind;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("outpost.toml");
    std::fs::write(
        &file,
        "[limits.daily.hospital-a]\nsms = 1000\nemail = 50000\n",
    )
    .unwrap();
    let config = Config::load(&Sources {
        file: Some(&file),
        env: Vec::new(),
    })
    .unwrap();
    assert_eq!(
        config
            .limits
            .daily
            .get(&("hospital-a".to_owned(), Kind::Sms)),
        Some(&1000)
    );
    assert_eq!(config.limits.daily.len(), 2);
    std::fs::write(&file, "[limits.daily.hospital-a]\nfax = 3\n").unwrap();
    let error = Config::load(&Sources {
        file: Some(&file),
        env: Vec::new(),
    })
    .unwrap_err()
    .to_string();
    assert!(error.contains("limits.daily.hospital-a.fax"), "{error}");
}

#[test]
fn rates_are_read_per_tenant_and_kind_and_must_be_positive() {
    use crate::message::Kind;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("outpost.toml");
    let load = |text: &str| {
        std::fs::write(&file, text).unwrap();
        Config::load(&Sources {
            file: Some(&file),
            env: Vec::new(),
        })
    };
    let config = load("[limits.rate.Hospital-A]\nsms = 0.5\nemail = 100\n").unwrap();
    let rates: Vec<_> = config.limits.rate.into_iter().collect();
    assert_eq!(
        rates,
        vec![
            (("Hospital-A".to_owned(), Kind::Email), 100.0),
            (("Hospital-A".to_owned(), Kind::Sms), 0.5),
        ]
    );
    for (text, key) in [
        ("[limits.rate.a]\nsms = 0\n", "limits.rate.a.sms"),
        ("[limits.rate.a]\nsms = -1\n", "limits.rate.a.sms"),
        ("[limits.rate.a]\nsms = nan\n", "limits.rate.a.sms"),
        ("[limits.rate.a]\nfax = 1\n", "limits.rate.a.fax"),
    ] {
        let error = load(text).unwrap_err().to_string();
        assert!(error.contains(key), "{text}: {error}");
    }
}
