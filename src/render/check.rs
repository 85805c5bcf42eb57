//! `outpost templates check`: renders every template in every configured
//! locale and reports each problem with its file and line.

use std::collections::BTreeSet;

use minijinja::UndefinedBehavior;

use super::{RenderError, Renderer, Source};

/// One problem found by the check.
#[derive(Debug, Clone)]
pub struct Problem {
    pub locale: Option<String>,
    pub error: RenderError,
}

/// What the check rendered and what went wrong.
#[derive(Debug, Clone, Default)]
pub struct Report {
    pub rendered: usize,
    pub locales: Vec<String>,
    pub problems: Vec<Problem>,
}

/// Renders every template in the default locale and every catalog's
/// language. The context is `NAME.sample.json` beside the template when
/// present (missing variables then are errors), else empty (missing variables
/// render empty, so only syntax and runtime errors show).
pub fn check(source: &Source) -> Result<Report, RenderError> {
    let lenient = Renderer::load(source, UndefinedBehavior::Lenient)?;
    let strict = Renderer::load(source, UndefinedBehavior::SemiStrict)?;
    let mut locales: BTreeSet<String> = lenient.catalogs().languages().into_iter().collect();
    locales.insert(catalog_name(&source.default_locale));
    let mut report = Report {
        locales: locales.iter().cloned().collect(),
        ..Report::default()
    };
    let names = lenient.names();
    // Every e-mail template needs both parts.
    let mut bases = BTreeSet::new();
    for name in &names {
        for suffix in [".subject.txt", ".html"] {
            if let Some(base) = name.strip_suffix(suffix) {
                bases.insert(base.to_owned());
            }
        }
    }
    for base in &bases {
        for part in ["txt", "html"] {
            let file = format!("{base}.{part}");
            if !names.contains(&file) {
                report.problems.push(Problem {
                    locale: None,
                    error: RenderError::MissingPart {
                        name: base.clone(),
                        file,
                        dir: source.templates_dir.display().to_string(),
                    },
                });
            }
        }
    }
    for name in &names {
        let sample = sample_context(source, name);
        let renderer = if sample.is_some() { &strict } else { &lenient };
        let context = sample.unwrap_or_else(|| serde_json::json!({}));
        for locale in &locales {
            report.rendered += 1;
            if let Err(error) = renderer.render_file(name, &context, locale) {
                let duplicate = report
                    .problems
                    .iter()
                    .any(|p| p.error.to_string() == error.to_string());
                if !duplicate {
                    report.problems.push(Problem {
                        locale: Some(locale.clone()),
                        error,
                    });
                }
            }
        }
    }
    Ok(report)
}

fn catalog_name(locale: &str) -> String {
    super::catalog::normalise(locale)
}

/// `welcome.sample.json` for `welcome.txt`, `welcome.html` and `welcome.subject.txt`.
fn sample_context(source: &Source, name: &str) -> Option<serde_json::Value> {
    let base = name
        .strip_suffix(".subject.txt")
        .or_else(|| name.strip_suffix(".html"))
        .or_else(|| name.strip_suffix(".txt"))?;
    let base = base.split('.').next().unwrap_or(base);
    let path = source.templates_dir.join(format!("{base}.sample.json"));
    let text = std::fs::read_to_string(path).ok()?;
    serde_json::from_str(&text).ok()
}
