//! Templates and catalogs: the shipped samples in three locales with plural
//! forms, fallbacks, escaping, missing parts, runaway templates, the check.

use crate::common;

use std::path::{Path, PathBuf};

use minijinja::UndefinedBehavior;
use outpost::render::{RenderError, Renderer, Source, Templates, check};
use serde_json::json;

fn shipped() -> Source {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    Source {
        templates_dir: root.join("templates"),
        locale_dir: root.join("locale"),
        default_locale: "en".into(),
        fuel: 100_000,
    }
}

fn scratch(files: &[(&str, &str)]) -> (tempfile::TempDir, Source) {
    let dir = tempfile::tempdir().unwrap();
    for (name, text) in files {
        let path = dir.path().join("templates").join(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }
    let source = Source {
        templates_dir: dir.path().join("templates"),
        locale_dir: PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("locale"),
        default_locale: "en".into(),
        fuel: 10_000,
    };
    (dir, source)
}

fn renderer(source: &Source) -> Renderer {
    Renderer::load(source, UndefinedBehavior::SemiStrict).unwrap()
}

#[test]
fn welcome_renders_in_three_locales_with_plurals() {
    let r = renderer(&shipped());
    let ctx = |n: u64| json!({"name": "Ann", "site": "MEG", "messages": n, "url": "https://x.test/login"});
    let en = r.render_email("welcome", &ctx(1), "en", None).unwrap();
    assert_eq!(en.subject, "Welcome to MEG, Ann");
    assert!(en.text.contains("You have 1 new message."), "{}", en.text);
    assert!(
        r.render_email("welcome", &ctx(5), "en", None)
            .unwrap()
            .text
            .contains("You have 5 new messages.")
    );

    // Romanian has three forms: 1, 2–19 (and 0), 20+.
    let ro = |n| r.render_email("welcome", &ctx(n), "ro", None).unwrap();
    assert_eq!(ro(1).subject, "Bun venit la MEG, Ann");
    assert!(ro(1).text.contains("Aveți 1 mesaj nou."));
    assert!(ro(3).text.contains("Aveți 3 mesaje noi."));
    assert!(
        ro(25).text.contains("Aveți 25 de mesaje noi."),
        "{}",
        ro(25).text
    );
    assert!(
        ro(1)
            .html
            .contains("<a href=\"https://x.test/login\">Autentificare</a>"),
        "{}",
        ro(1).html
    );

    let de = |n| r.render_email("welcome", &ctx(n), "de", None).unwrap();
    assert!(de(1).text.contains("Sie haben 1 neue Nachricht."));
    assert!(de(2).text.contains("Sie haben 2 neue Nachrichten."));
}

#[test]
fn regional_locales_fall_back_to_the_language_then_the_default() {
    let r = renderer(&shipped());
    let ctx = json!({"name": "Ann", "site": "MEG", "messages": 2, "url": "u"});
    assert_eq!(
        r.render_email("welcome", &ctx, "de-AT", None)
            .unwrap()
            .subject,
        "Willkommen bei MEG, Ann"
    );
    assert_eq!(
        r.render_email("welcome", &ctx, "de_CH", None)
            .unwrap()
            .subject,
        "Willkommen bei MEG, Ann"
    );
    assert_eq!(
        r.render_email("welcome", &ctx, "fr-FR", None)
            .unwrap()
            .subject,
        "Welcome to MEG, Ann"
    );
    // pgettext uses the context; fuzzy entries are ignored.
    let audit = r
        .render_email(
            "audit_due",
            &json!({"audit": "Hygiene", "overdue": 20, "note": ""}),
            "ro",
            None,
        )
        .unwrap();
    assert_eq!(audit.subject, "Audit scadent: Hygiene");
    assert!(audit.text.contains("20 de audituri sunt întârziate."));
    assert_eq!(r.catalogs().gettext("ro", None, "Unreviewed"), "Unreviewed");
}

#[test]
fn html_is_autoescaped_and_text_is_not() {
    let r = renderer(&shipped());
    let ctx = json!({"audit": "A&B", "overdue": 1, "note": "Ward 4 <east> & \"west\""});
    let audit = r.render_email("audit_due", &ctx, "en", None).unwrap();
    assert!(
        audit.text.contains("Ward 4 <east> & \"west\""),
        "{}",
        audit.text
    );
    assert!(
        audit
            .html
            .contains("Ward 4 &lt;east&gt; &amp; &quot;west&quot;"),
        "{}",
        audit.html
    );
    assert_eq!(audit.subject, "Audit due: A&B");
}

#[test]
fn a_missing_part_names_the_file() {
    let (_dir, source) = scratch(&[("only_text.txt", "hi"), ("only_text.subject.txt", "s")]);
    let err = renderer(&source)
        .render_email("only_text", &json!({}), "en", None)
        .unwrap_err();
    assert!(
        matches!(&err, RenderError::MissingPart { file, .. } if file == "only_text.html"),
        "{err}"
    );
    assert!(err.to_string().contains("only_text.html"));
    let err = renderer(&source)
        .render_email("nope", &json!({}), "en", None)
        .unwrap_err();
    assert!(err.to_string().contains("nope.txt"), "{err}");
    // Without a subject file, the message's subject is used.
    let (_dir, source) = scratch(&[("x.txt", "t"), ("x.html", "<p>h</p>")]);
    let r = renderer(&source);
    assert!(
        r.render_email("x", &json!({}), "en", None)
            .unwrap_err()
            .to_string()
            .contains("x.subject.txt")
    );
    assert_eq!(
        r.render_email("x", &json!({}), "ro", Some("Report ready"))
            .unwrap()
            .subject,
        "Raport gata"
    );
}

#[test]
fn runaway_templates_run_out_of_fuel_and_undefined_names_fail() {
    let (_dir, source) = scratch(&[
        (
            "loop.txt",
            "{% for i in range(100000) %}{{ i }}{% endfor %}",
        ),
        ("typo.txt", "Hello {{ user.name }}"),
    ]);
    let r = renderer(&source);
    let err = r.render_file("loop.txt", &json!({}), "en").unwrap_err();
    assert!(err.to_string().contains("fuel"), "{err}");
    let err = r.render_file("typo.txt", &json!({}), "en").unwrap_err();
    assert!(err.to_string().contains("typo.txt:1"), "{err}");
}

#[test]
fn subjects_are_trimmed_and_a_line_break_inside_is_kept_for_the_composer_to_refuse() {
    let (_dir, source) = scratch(&[
        ("s.subject.txt", "  Hello   {{ name }}\n"),
        ("bad.subject.txt", "Line one\r\nBcc: victim@example.com\n"),
        ("s.txt", "t"),
        ("s.html", "h"),
        ("bad.txt", "t"),
        ("bad.html", "h"),
    ]);
    let r = renderer(&source);
    let ok = r
        .render_email("s", &json!({"name": "Ann"}), "en", None)
        .unwrap();
    assert_eq!(ok.subject, "Hello Ann");
    // Folding would hide an injection: the composer fails such a message.
    let bad = r.render_email("bad", &json!({}), "en", None).unwrap();
    assert_eq!(bad.subject, "Line one\r\nBcc: victim@example.com");
    let injected = r
        .render_email(
            "s",
            &json!({"name": "Ann\r\nBcc: victim@example.com"}),
            "en",
            None,
        )
        .unwrap();
    assert!(injected.subject.contains("\r\n"), "{:?}", injected.subject);
}

#[test]
fn simple_mail_needs_no_template() {
    let r = renderer(&shipped());
    let links = json!([{"label": "Open report", "url": "https://x.test/r?a=1&b=2"}]);
    let e = r
        .render_simple("Report ready", "First.\n\nSecond <b>", &links, "ro")
        .unwrap();
    assert_eq!(e.subject, "Raport gata");
    assert!(e.text.contains("Second <b>\n"), "{}", e.text);
    assert!(
        e.text
            .contains("Deschide raportul: https://x.test/r?a=1&b=2"),
        "{}",
        e.text
    );
    assert!(e.html.contains("<p>Second &lt;b&gt;</p>"), "{}", e.html);
    assert!(
        e.html
            .contains("<a href=\"https://x.test/r?a=1&amp;b=2\">Deschide raportul</a>"),
        "{}",
        e.html
    );
}

#[test]
fn templates_check_reports_file_and_line() {
    let check_of = |files: &[(&str, &str)]| {
        let (dir, source) = scratch(files);
        let report = check::check(&source).unwrap();
        drop(dir);
        report
    };
    let report = check::check(&shipped()).unwrap();
    assert!(report.problems.is_empty(), "{:?}", report.problems);
    assert_eq!(report.locales, ["de", "en", "ro"]);
    assert!(report.rendered >= 18);

    let report = check_of(&[
        ("good.subject.txt", "ok"),
        ("good.txt", "fine"),
        ("good.html", "<p>fine</p>"),
        ("broken.subject.txt", "s"),
        ("broken.txt", "line one\n{% if x %}never closed"),
        ("broken.html", "<p>{{ 1 / 0 }}</p>"),
        ("half.html", "<p>no text part</p>"),
    ]);
    let messages: Vec<String> = report
        .problems
        .iter()
        .map(|p| p.error.to_string())
        .collect();
    assert!(
        messages.iter().any(|m| m.contains("broken.txt:2")),
        "{messages:?}"
    );
    assert!(
        messages.iter().any(|m| m.contains("broken.html:1")),
        "{messages:?}"
    );
    assert!(
        messages.iter().any(|m| m.contains("half.txt")),
        "{messages:?}"
    );
    assert!(
        !messages.iter().any(|m| m.contains("good.")),
        "{messages:?}"
    );
}

#[test]
fn reload_picks_up_changes_and_keeps_the_old_set_on_error() {
    let (dir, mut source) = scratch(&[("r.txt", "v1")]);
    source.locale_dir = dir.path().join("locale");
    let templates = Templates::load(&source).unwrap();
    assert_eq!(
        templates
            .get()
            .render_file("r.txt", &json!({}), "en")
            .unwrap(),
        "v1"
    );
    std::fs::write(dir.path().join("templates/r.txt"), "v2").unwrap();
    templates.reload().unwrap();
    assert_eq!(
        templates
            .get()
            .render_file("r.txt", &json!({}), "en")
            .unwrap(),
        "v2"
    );
    let po_dir = dir.path().join("locale/xx/LC_MESSAGES");
    std::fs::create_dir_all(&po_dir).unwrap();
    std::fs::write(
        po_dir.join("django.po"),
        "msgid \"\"\nmsgstr \"\"\n\"Plural-Forms: nplurals=2; plural=(n $ 1);\\n\"\n",
    )
    .unwrap();
    std::fs::write(dir.path().join("templates/r.txt"), "v3").unwrap();
    let err = templates.reload().unwrap_err();
    assert!(err.to_string().contains("django.po"), "{err}");
    assert_eq!(
        templates
            .get()
            .render_file("r.txt", &json!({}), "en")
            .unwrap(),
        "v2"
    );
}

/// An undefined variable's error names it, wherever it is used: printed,
/// passed to ngettext, or passed as a keyword to `_()` (which used to render
/// "Welcome to , Ann").
#[test]
fn undefined_variables_are_errors_that_name_them() {
    let (_dir, source) = scratch(&[
        ("printed.txt", "Hello {{ user.name }}"),
        ("count.txt", "{{ ngettext(\"a\", \"b\", messages) }}"),
        (
            "keyword.txt",
            "{{ _(\"Welcome to %(site)s, %(name)s\", site=site, name=name) }}",
        ),
    ]);
    let r = renderer(&source);
    let ann = json!({"name": "Ann"});
    for (file, named) in [
        ("printed.txt", "`user`"),
        ("count.txt", "`messages`"),
        ("keyword.txt", "`site`"),
    ] {
        let err = r.render_file(file, &ann, "en").unwrap_err().to_string();
        assert!(
            err.contains(named) && err.contains("undefined"),
            "{file}: {err}"
        );
        assert!(err.contains(&format!("{file}:1")), "{err}");
    }
    let ok = r
        .render_file("keyword.txt", &json!({"name": "Ann", "site": "MEG"}), "en")
        .unwrap();
    assert_eq!(ok, "Welcome to MEG, Ann");
}

/// The SQL API's first example passes only a name; the shipped template
/// renders it in every shipped language.
#[test]
fn the_shipped_welcome_needs_only_a_name() {
    let r = renderer(&shipped());
    for (locale, subject, hello) in [
        ("en", "Welcome, Ann", "Hello Ann,"),
        ("ro", "Bun venit, Ann", "Bună ziua, Ann,"),
        ("de", "Willkommen, Ann", "Hallo Ann,"),
    ] {
        let mail = r
            .render_email("welcome", &json!({"name": "Ann"}), locale, None)
            .unwrap();
        assert_eq!(mail.subject, subject);
        assert!(mail.text.starts_with(hello), "{}", mail.text);
        assert!(!mail.text.contains("Sign in"), "{}", mail.text);
        assert!(mail.html.contains(hello), "{}", mail.html);
    }
}

/// The README's tour, the Enqueueing example (docs/sql-api.md) and the
/// Twilio helpers (docs/channels.md) run as written, and every message they
/// create is delivered (console backends, user 42 known).
#[tokio::test]
async fn the_docs_enqueueing_examples_work_as_written() {
    let block_after = |file: &str, marker: &str| -> String {
        let text =
            std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join(file)).unwrap();
        let section = text
            .split(marker)
            .nth(1)
            .unwrap_or_else(|| panic!("{file} has no {marker:?}"));
        section
            .split("```sql")
            .nth(1)
            .and_then(|b| b.split("```").next())
            .unwrap()
            .to_owned()
    };
    let db = common::TestDb::new().await;
    let client = db.client().await;
    client
        .batch_execute(
            "INSERT INTO outpost.recipients (user_id, email, phone, locale)
             VALUES ('42', 'ann@example.com', '+353861234567', 'en')",
        )
        .await
        .unwrap();
    for (file, marker) in [
        ("README.md", "## A five-minute tour"),
        ("docs/sql-api.md", "## Enqueueing"),
        (
            "docs/channels.md",
            "SQL helpers, named after the original Celery tasks",
        ),
    ] {
        let block = block_after(file, marker);
        client
            .batch_execute(&block)
            .await
            .unwrap_or_else(|e| panic!("{block}: {e:?}"));
    }
    // The INSERT's run_at is an hour ahead: bring it forward.
    client
        .execute("UPDATE outpost.messages SET run_at = now()", &[])
        .await
        .unwrap();
    let config = db.config(&[]);
    let (channels, _) = db.channels(&config);
    db.dispatcher(&config, channels, "readme")
        .drain()
        .await
        .unwrap();
    let rows = client
        .query(
            "SELECT id, kind, status, last_error FROM outpost.messages ORDER BY id",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(rows.len(), 13);
    for r in rows {
        let (id, kind, status, error): (i64, String, String, Option<String>) =
            (r.get(0), r.get(1), r.get(2), r.get(3));
        assert_eq!(status, "sent", "message {id} ({kind}): {error:?}");
    }
}

#[test]
fn placeholders_are_filled_once_not_from_user_values() {
    let r = renderer(&shipped());
    let ctx = json!({"name": "%(site)s", "site": "%(name)s", "messages": 1, "url": "u"});
    let en = r.render_email("welcome", &ctx, "en", None).unwrap();
    assert_eq!(en.subject, "Welcome to %(name)s, %(site)s");
    assert!(en.text.contains("Hello %(site)s,"), "{}", en.text);
}

#[tokio::test]
async fn sighup_reloads_the_templates_of_the_consoles_previews_too() {
    use crate::common::console::{ADMIN, Agent};
    let db = common::TestDb::new().await;
    let client = db.client().await;
    outpost::console::users::add(
        &client,
        ADMIN.0,
        outpost::console::users::Role::Admin,
        ADMIN.1,
        None,
    )
    .await
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let shipped = Path::new(env!("CARGO_MANIFEST_DIR")).join("templates");
    for entry in std::fs::read_dir(&shipped).unwrap() {
        let entry = entry.unwrap();
        std::fs::copy(entry.path(), dir.path().join(entry.file_name())).unwrap();
    }
    // Due tomorrow: the daemon leaves it queued while the console previews it.
    let id: i64 = common::scalar(
        &client,
        "SELECT outpost.send_mail_template('welcome', to_address => 'ann@example.com', \
         context => '{\"name\": \"Ann\"}', run_at => now() + interval '1 day')",
        &[],
    )
    .await;
    let log_dir = tempfile::tempdir().unwrap();
    let log = log_dir.path().join("outpost.log");
    let port = common::free_port();
    let env: Vec<(String, String)> = [
        ("OUTPOST__CONSOLE__ENABLED", "true".to_owned()),
        ("OUTPOST__CONSOLE__LISTEN", format!("127.0.0.1:{port}")),
        ("OUTPOST__HTTP__LISTEN", "127.0.0.1:0".to_owned()),
        ("OUTPOST__TEMPLATES__DIR", dir.path().display().to_string()),
        ("OUTPOST__LOG__LEVEL", "info".to_owned()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect();
    let daemon = common::daemon::start_logged(&db.url, &env, &log);
    let base = format!("http://127.0.0.1:{port}");
    let mut agent = Agent::new(&base);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while reqwest::get(format!("{base}/login")).await.is_err() {
        assert!(
            std::time::Instant::now() < deadline,
            "the console never answered"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(agent.login(ADMIN.0, ADMIN.1).await.0, 303);
    let preview = format!("/messages/{id}/preview");
    let (status, _, before) = agent.get(&preview).await;
    assert_eq!(status, 200);
    assert!(before.contains("Hello Ann"), "{before}");

    for name in ["welcome.txt", "welcome.html"] {
        std::fs::write(dir.path().join(name), "Reloaded greeting for {{ name }}\n").unwrap();
    }
    let pid = daemon.0.id().to_string();
    std::process::Command::new("kill")
        .args(["-HUP", &pid])
        .status()
        .unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while !std::fs::read_to_string(&log)
        .unwrap_or_default()
        .contains("templates and catalogs reloaded")
    {
        assert!(std::time::Instant::now() < deadline, "no reload logged");
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let (_, _, after) = agent.get(&preview).await;
    assert!(after.contains("Reloaded greeting for Ann"), "{after}");
}
