//! Template rendering and plural expressions: any template source and any
//! Plural-Forms expression render or fail with an error, never panic or run
//! away (fuel).
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use outpost::render::plural::Expr;
use outpost::render::{Renderer, Source};

fn dir() -> &'static tempfile::TempDir {
    static DIR: OnceLock<tempfile::TempDir> = OnceLock::new();
    DIR.get_or_init(|| tempfile::tempdir().expect("temp dir"))
}

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    if let Ok(expr) = Expr::parse(&text) {
        for n in [0, 1, 2, 5, 11, 21, 101, u64::MAX] {
            let _ = expr.eval(n);
        }
    }
    let templates = dir().path().join("templates");
    let _ = std::fs::create_dir_all(&templates);
    if std::fs::write(templates.join("f.html"), text.as_bytes()).is_err() {
        return;
    }
    let source = Source {
        templates_dir: templates,
        locale_dir: dir().path().join("locale"),
        default_locale: "en".into(),
        fuel: 10_000,
    };
    if let Ok(r) = Renderer::load(&source, minijinja::UndefinedBehavior::SemiStrict) {
        let _ = r.render_file("f.html", &serde_json::json!({"name": "<x>", "n": 3, "items": [1, 2]}), "ro");
    }
});
