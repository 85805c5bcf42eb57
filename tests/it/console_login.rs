//! Signing in to the console under attack (issue 26, points 6 and 7): the
//! login limiter (no leading-space bypass, per address and per user from an
//! address, no lock-out from everywhere, a bound on password checks), `next`
//! never leaving the site, the cookie's `Secure`/`__Host-` form, the absolute
//! session lifetime and the Host allow-list. Client addresses are varied with
//! `X-Forwarded-For` from 127.0.0.1, a trusted proxy by default.

use std::time::Instant;

use crate::common;

use common::TestDb;
use common::console::{ADMIN, Console, VIEWER};
use outpost::console::auth::{COOKIE, SECURE_COOKIE};
use reqwest::StatusCode;
use reqwest::header::HeaderMap;

fn http() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// `POST /login` as a browser at client address `from` sends it.
async fn login_from(
    console: &Console,
    from: &str,
    name: &str,
    password: &str,
) -> (StatusCode, HeaderMap) {
    let r = http()
        .post(format!("{}/login", console.base))
        .header("origin", &console.base)
        .header("x-forwarded-for", from)
        .form(&[("name", name), ("password", password), ("next", "/")])
        .send()
        .await
        .unwrap();
    (r.status(), r.headers().clone())
}

#[tokio::test]
async fn a_leading_space_does_not_escape_the_per_user_limit() {
    let db = TestDb::new().await;
    let console = Console::start(
        &db,
        &[
            ("OUTPOST__CONSOLE__LOGIN_BURST", "3"),
            ("OUTPOST__CONSOLE__LOGIN_PERIOD", "1h"),
        ],
    )
    .await;
    for _ in 0..3 {
        let (status, _) = login_from(&console, "203.0.113.5", ADMIN.0, "guess").await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
    }
    for padded in [" admin", "admin ", "\tadmin", ADMIN.0] {
        let (status, _) = login_from(&console, "203.0.113.5", padded, ADMIN.1).await;
        assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{padded:?}");
    }
}

#[tokio::test]
async fn a_user_name_locked_out_from_one_address_signs_in_from_another() {
    let db = TestDb::new().await;
    let console = Console::start(
        &db,
        &[
            ("OUTPOST__CONSOLE__LOGIN_BURST", "3"),
            ("OUTPOST__CONSOLE__LOGIN_PERIOD", "1h"),
        ],
    )
    .await;
    // An attacker keeps failing as admin, long past the limit.
    let mut refused = 0;
    for _ in 0..10 {
        if login_from(&console, "203.0.113.5", ADMIN.0, "guess")
            .await
            .0
            == StatusCode::TOO_MANY_REQUESTS
        {
            refused += 1;
        }
    }
    assert_eq!(refused, 7);
    // The administrator, elsewhere, is not locked out.
    let (status, headers) = login_from(&console, "198.51.100.7", ADMIN.0, ADMIN.1).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert!(headers.contains_key("set-cookie"));
    // The attacker's address still is, even with the right password.
    let (status, _) = login_from(&console, "203.0.113.5", ADMIN.0, ADMIN.1).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
}

#[tokio::test]
async fn an_address_is_limited_whatever_user_names_it_tries() {
    let db = TestDb::new().await;
    let console = Console::start(
        &db,
        &[
            ("OUTPOST__CONSOLE__LOGIN_BURST", "3"),
            ("OUTPOST__CONSOLE__LOGIN_ADDRESS_BURST", "4"),
            ("OUTPOST__CONSOLE__LOGIN_PERIOD", "1h"),
        ],
    )
    .await;
    // A success costs nothing.
    for _ in 0..6 {
        let (status, _) = login_from(&console, "203.0.113.5", VIEWER.0, VIEWER.1).await;
        assert_eq!(status, StatusCode::SEE_OTHER);
    }
    for name in ["root", "ops", "alice", "bob"] {
        let (status, _) = login_from(&console, "203.0.113.5", name, "guess").await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
    }
    let (status, _) = login_from(&console, "203.0.113.5", VIEWER.0, VIEWER.1).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    // An IPv6 client counts as its /64.
    for i in 0..4 {
        let (status, _) = login_from(
            &console,
            &format!("2001:db8::{i}"),
            &format!("x{i}"),
            "guess",
        )
        .await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
    }
    let (status, _) = login_from(&console, "2001:db8::ffff", VIEWER.0, VIEWER.1).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    let (status, _) = login_from(&console, "2001:db8:0:1::1", VIEWER.0, VIEWER.1).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
}

#[tokio::test]
async fn password_checks_beyond_the_bound_get_503_at_once() {
    let db = TestDb::new().await;
    let console = Console::start(
        &db,
        &[
            ("OUTPOST__CONSOLE__LOGIN_CONCURRENCY", "1"),
            ("OUTPOST__CONSOLE__LOGIN_BURST", "100"),
            ("OUTPOST__CONSOLE__LOGIN_ADDRESS_BURST", "100"),
        ],
    )
    .await;
    let started = Instant::now();
    let attempts = (0..24).map(|i| {
        let console = &console;
        async move {
            let t = Instant::now();
            let from = format!("203.0.113.{}", i + 1);
            let (status, headers) = login_from(console, &from, ADMIN.0, "guess").await;
            (status, headers, t.elapsed())
        }
    });
    let results = futures_util::future::join_all(attempts).await;
    let total = started.elapsed();
    let busy: Vec<_> = results
        .iter()
        .filter(|(s, _, _)| *s == StatusCode::SERVICE_UNAVAILABLE)
        .collect();
    let checked: Vec<_> = results
        .iter()
        .filter(|(s, _, _)| *s == StatusCode::UNAUTHORIZED)
        .collect();
    assert_eq!(busy.len() + checked.len(), 24, "{results:?}");
    assert!(!busy.is_empty() && !checked.is_empty(), "{results:?}");
    assert!(busy.iter().all(|(_, h, _)| h["retry-after"] == "1"));
    let slowest_busy = busy.iter().map(|(_, _, t)| *t).max().unwrap();
    let fastest_check = checked.iter().map(|(_, _, t)| *t).min().unwrap();
    println!(
        "24 concurrent logins, 1 check slot: {} checked (fastest {fastest_check:?}), {} refused \
         with 503 (slowest {slowest_busy:?}), all in {total:?}",
        checked.len(),
        busy.len()
    );
    // The refused ones were not queued behind the checks.
    assert!(slowest_busy < fastest_check * 4, "{results:?}");
}

#[tokio::test]
async fn after_login_next_never_leaves_the_site() {
    let db = TestDb::new().await;
    let console = Console::start(&db, &[]).await;
    let login = async |next: &str| {
        let r = http()
            .post(format!("{}/login", console.base))
            .header("origin", &console.base)
            .form(&[("name", ADMIN.0), ("password", ADMIN.1), ("next", next)])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::SEE_OTHER, "{next:?}");
        r.headers()["location"].to_str().unwrap().to_owned()
    };
    for next in [
        "/\t/evil.example",
        "/%09/evil.example",
        "//evil.example",
        "/\\evil.example",
        "\\\\evil.example",
        "/\n/evil.example",
        "/\r\n/evil.example",
        " //evil.example",
        "/ /evil.example",
        "//%09evil.example",
        "/%2F/evil.example",
        "/%5Cevil.example",
        "/%5C%5Cevil.example",
        "https://evil.example/",
        "javascript:alert(1)",
        "/é",
    ] {
        assert_eq!(login(next).await, "/", "{next:?}");
    }
    for kept in [
        "/messages?status=failed&kind=email",
        "/audit-log",
        "/messages/42",
    ] {
        assert_eq!(login(kept).await, kept);
    }
    // The form carries only a safe `next` either.
    let body = http()
        .get(format!("{}/login?next=/%09/evil.example", console.base))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(body.contains(r#"name="next" value="&#x2f;">"#), "{body}");
}

#[tokio::test]
async fn the_session_cookie_is_secure_and_host_prefixed_when_configured() {
    let db = TestDb::new().await;
    let secure = Console::start(&db, &[("OUTPOST__CONSOLE__SECURE_COOKIE", "true")]).await;
    let mut agent = secure.agent();
    let (status, headers, _) = agent.login(ADMIN.0, ADMIN.1).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let cookie = headers["set-cookie"].to_str().unwrap().to_owned();
    assert!(cookie.starts_with(&format!("{SECURE_COOKIE}=")), "{cookie}");
    for attribute in ["; Secure", "; Path=/", "; HttpOnly", "; SameSite=Strict"] {
        assert!(cookie.contains(attribute), "{attribute} missing: {cookie}");
    }
    assert!(!cookie.to_ascii_lowercase().contains("domain"), "{cookie}");
    assert_eq!(agent.cookie_name, SECURE_COOKIE);
    assert_eq!(agent.get("/").await.0, StatusCode::OK);
    // The same token under the unprefixed name (as a sibling domain could set it) is no session.
    agent.cookie_name = COOKIE;
    assert_eq!(agent.get("/").await.0, StatusCode::SEE_OTHER);
    agent.cookie_name = SECURE_COOKIE;
    let (_, headers, _) = agent.post("/logout", &[]).await;
    let expired = headers["set-cookie"].to_str().unwrap();
    assert!(
        expired.starts_with(&format!("{SECURE_COOKIE}=;"))
            && expired.contains("; Secure")
            && expired.contains("Max-Age=0"),
        "{expired}"
    );

    // On loopback by default: plain name, no Secure (browsers drop Secure cookies over http).
    let plain = Console::start(&db, &[]).await;
    let (_, headers, _) = plain.agent().login(ADMIN.0, ADMIN.1).await;
    let cookie = headers["set-cookie"].to_str().unwrap();
    assert!(
        cookie.starts_with(&format!("{COOKIE}=")) && !cookie.contains("Secure"),
        "{cookie}"
    );

    let config = |listen: &str, secure: &str| {
        outpost::config::Config::load(&outpost::config::Sources {
            file: None,
            env: vec![
                ("OUTPOST__CONSOLE__LISTEN".into(), listen.into()),
                ("OUTPOST__CONSOLE__SECURE_COOKIE".into(), secure.into()),
            ],
        })
        .map(|c| c.console.secure_cookies())
        .map_err(|e| e.to_string())
    };
    assert_eq!(config("0.0.0.0:8026", "auto"), Ok(true));
    assert_eq!(config("127.0.0.1:8026", "auto"), Ok(false));
    assert_eq!(config("127.0.0.1:8026", "true"), Ok(true));
    assert_eq!(config("0.0.0.0:8026", "false"), Ok(false));
    let err = config("0.0.0.0:8026", "maybe").unwrap_err();
    assert!(err.contains("console.secure_cookie"), "{err}");
}

#[tokio::test]
async fn a_session_ends_at_its_absolute_lifetime_however_busy() {
    let db = TestDb::new().await;
    let client = db.client().await;
    let console = Console::start(&db, &[]).await;
    let mut admin = console.signed_in(ADMIN).await;
    let age = async |interval: &str| {
        client
            .execute(
                &format!(
                    "UPDATE outpost.console_sessions SET created_at = now() - interval '{interval}'"
                ),
                &[],
            )
            .await
            .unwrap();
    };
    // Used a moment ago, 23 h 59 min old: alive (the default lifetime is 24 h).
    age("23 hours 59 minutes").await;
    assert_eq!(admin.get("/").await.0, StatusCode::OK);
    age("24 hours 1 minute").await;
    let (status, headers, _) = admin.get("/").await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert!(headers["location"].to_str().unwrap().starts_with("/login"));

    // Configured: an idle timeout longer than the lifetime never outlives it.
    let short = Console::start(
        &db,
        &[
            ("OUTPOST__CONSOLE__SESSION_IDLE", "48h"),
            ("OUTPOST__CONSOLE__SESSION_LIFETIME", "1h"),
        ],
    )
    .await;
    let mut admin = short.signed_in(ADMIN).await;
    let longest: bool = common::scalar(
        &client,
        "SELECT bool_and(expires_at <= created_at + interval '1 hour 1 second')
         FROM outpost.console_sessions",
        &[],
    )
    .await;
    assert!(longest, "a session's expiry is within its lifetime");
    age("61 minutes").await;
    assert_eq!(admin.get("/").await.0, StatusCode::SEE_OTHER);
}

#[tokio::test]
async fn other_host_names_get_421_before_anything_else() {
    let db = TestDb::new().await;
    let console = Console::start(
        &db,
        &[("OUTPOST__CONSOLE__PROXY_USER_HEADER", "X-Forwarded-User")],
    )
    .await;
    let port = console.base.rsplit(':').next().unwrap().to_owned();
    let get = async |path: &str, host: &str, user: Option<&str>| {
        let mut request = http()
            .get(format!("{}{path}", console.base))
            .header("host", host);
        if let Some(user) = user {
            request = request.header("x-forwarded-user", user);
        }
        let r = request.send().await.unwrap();
        (r.status(), r.headers().clone())
    };
    // A DNS-rebinding page names its own host.
    let evil = format!("evil.example:{port}");
    assert_eq!(
        get("/", &evil, None).await.0,
        StatusCode::MISDIRECTED_REQUEST
    );
    let (status, headers) = get("/login", &evil, Some("admin")).await;
    assert_eq!(
        status,
        StatusCode::MISDIRECTED_REQUEST,
        "the proxy header is not believed"
    );
    assert!(!headers.contains_key("set-cookie"));
    let r = http()
        .post(format!("{}/login", console.base))
        .header("host", &evil)
        .header("origin", format!("http://{evil}"))
        .form(&[("name", ADMIN.0), ("password", ADMIN.1)])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::MISDIRECTED_REQUEST);
    assert!(!r.headers().contains_key("set-cookie"));
    // The names it answers to by default: localhost and IP literals.
    for host in [
        format!("localhost:{port}"),
        format!("127.0.0.1:{port}"),
        format!("[::1]:{port}"),
        "LocalHost.".into(),
    ] {
        assert_eq!(get("/login", &host, None).await.0, StatusCode::OK, "{host}");
    }
    let (status, headers) = get("/login", &format!("localhost:{port}"), Some("admin")).await;
    assert_eq!(
        status,
        StatusCode::SEE_OTHER,
        "the proxy header works for an allowed host"
    );
    assert!(headers.contains_key("set-cookie"));

    // Configured: only the names listed (and IP literals).
    let mut config = db.config(&[
        ("OUTPOST__CONSOLE__ENABLED", "true"),
        ("OUTPOST__CONSOLE__LISTEN", "127.0.0.1:0"),
    ]);
    config.console.allowed_hosts = vec!["console.example.com".into()];
    let named = Console::start_config(&db, config).await;
    let port = named.base.rsplit(':').next().unwrap();
    let status = async |host: String| {
        http()
            .get(format!("{}/login", named.base))
            .header("host", host)
            .send()
            .await
            .unwrap()
            .status()
    };
    assert_eq!(
        status(format!("Console.Example.COM:{port}")).await,
        StatusCode::OK
    );
    assert_eq!(
        status(format!("localhost:{port}")).await,
        StatusCode::MISDIRECTED_REQUEST
    );
    assert_eq!(status(format!("127.0.0.1:{port}")).await, StatusCode::OK);

    // From the configuration file.
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("outpost.toml");
    let load = |hosts: &str| {
        std::fs::write(&file, format!("[console]\nallowed_hosts = {hosts}\n")).unwrap();
        outpost::config::Config::load(&outpost::config::Sources {
            file: Some(&file),
            env: Vec::new(),
        })
        .map(|c| c.console.allowed_hosts)
        .map_err(|e| e.to_string())
    };
    assert_eq!(
        load(r#"["Console.Example.com", "ops.example.com."]"#),
        Ok(vec![
            "console.example.com".to_owned(),
            "ops.example.com".to_owned()
        ])
    );
    let err = load(r#"["console.example.com:8443"]"#).unwrap_err();
    assert!(err.contains("console.allowed_hosts"), "{err}");
}
