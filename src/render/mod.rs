//! Templates and translations: minijinja templates from the configured
//! directory (`NAME.subject.txt`, `NAME.txt`, `NAME.html`, and `NAME.sms.txt`
//! style text templates), gettext catalogs exposed as `_()`, `gettext`,
//! `ngettext`, `pgettext` (module `gettext`), and a handle that reloads both on SIGHUP.

pub mod catalog;
pub mod check;
mod gettext;
pub mod plural;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arc_swap::ArcSwap;
use minijinja::{Environment, State, UndefinedBehavior, Value};

use catalog::Catalogs;

/// Why a template could not be rendered or loaded.
#[derive(Debug, Clone, thiserror::Error)]
pub enum RenderError {
    #[error("template {name:?} is missing {file} in {dir}")]
    MissingPart {
        name: String,
        file: String,
        dir: String,
    },
    #[error("{file}{}: {message}", line.map(|l| format!(":{l}")).unwrap_or_default())]
    Template {
        file: String,
        line: Option<usize>,
        message: String,
    },
    #[error("translation catalog {file}: {reason}")]
    Catalog { file: String, reason: String },
    #[error("cannot read templates in {dir}: {source}")]
    Io {
        dir: String,
        #[source]
        source: std::sync::Arc<std::io::Error>,
    },
}

/// Subject, plain text and HTML of an e-mail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RenderedEmail {
    pub subject: String,
    pub text: String,
    pub html: String,
}

/// Where templates and catalogs come from.
#[derive(Debug, Clone)]
pub struct Source {
    pub templates_dir: PathBuf,
    pub locale_dir: PathBuf,
    pub default_locale: String,
    pub fuel: u64,
}

/// Loaded templates and catalogs, immutable; [`Templates`] swaps in a new one on reload.
pub struct Renderer {
    env: Environment<'static>,
    /// The built-in templates: no fuel limit, since only the data can be
    /// large there (a 10 MB report body), never the loop.
    builtin: Environment<'static>,
    catalogs: Arc<Catalogs>,
    /// Template files that failed to parse, with their error.
    broken: BTreeMap<String, RenderError>,
    source: Source,
}

const SIMPLE_TXT: &str = "outpost/simple_mail.txt";
const SIMPLE_HTML: &str = "outpost/simple_mail.html";

impl Renderer {
    /// Loads every file under the templates directory and every catalog.
    pub fn load(source: &Source, undefined: UndefinedBehavior) -> Result<Self, RenderError> {
        let catalogs = Arc::new(Catalogs::load(&source.locale_dir, &source.default_locale)?);
        let mut env = environment(&catalogs, undefined, Some(source.fuel));
        let mut builtin = environment(&catalogs, undefined, None);
        let builtins = [
            (SIMPLE_TXT, include_str!("builtin/simple_mail.txt")),
            (SIMPLE_HTML, include_str!("builtin/simple_mail.html")),
        ];
        for (name, text) in builtins {
            builtin
                .add_template_owned(name.to_owned(), text.to_owned())
                .map_err(|e| template_error(&source.templates_dir, &e))?;
        }
        let mut broken = BTreeMap::new();
        for (name, text) in read_tree(&source.templates_dir)? {
            if let Err(e) = env.add_template_owned(name.clone(), text) {
                broken.insert(name, template_error(&source.templates_dir, &e));
            }
        }
        Ok(Self {
            env,
            builtin,
            catalogs,
            broken,
            source: source.clone(),
        })
    }

    pub fn catalogs(&self) -> &Catalogs {
        &self.catalogs
    }

    pub fn source(&self) -> &Source {
        &self.source
    }

    /// Template files by name (paths relative to the templates directory).
    pub fn names(&self) -> Vec<String> {
        let mut names: Vec<String> = self
            .env
            .templates()
            .map(|(name, _)| name.to_owned())
            .filter(|n| !n.starts_with("outpost/"))
            .chain(self.broken.keys().cloned())
            .collect();
        names.sort();
        names.dedup();
        names
    }

    pub fn has(&self, file: &str) -> bool {
        self.env.get_template(file).is_ok() || self.broken.contains_key(file)
    }

    /// Renders one template file with `context` (a JSON object) in `locale`.
    pub fn render_file(
        &self,
        file: &str,
        context: &serde_json::Value,
        locale: &str,
    ) -> Result<String, RenderError> {
        if let Some(e) = self.broken.get(file) {
            return Err(e.clone());
        }
        self.render_in(&self.env, file, context, locale)
    }

    fn render_in(
        &self,
        env: &Environment<'static>,
        file: &str,
        context: &serde_json::Value,
        locale: &str,
    ) -> Result<String, RenderError> {
        let mut ctx: BTreeMap<String, Value> = match context {
            serde_json::Value::Object(map) => map
                .iter()
                .map(|(k, v)| (k.clone(), Value::from(minijinja::value::Serde(v))))
                .collect(),
            _ => BTreeMap::new(),
        };
        ctx.insert("LANGUAGE_CODE".into(), Value::from(locale));
        self.render_value(env, file, Value::from_object(ctx))
    }

    /// Renders `file` of `env` with a context already in minijinja's terms.
    fn render_value(
        &self,
        env: &Environment<'static>,
        file: &str,
        context: Value,
    ) -> Result<String, RenderError> {
        let template = env
            .get_template(file)
            .map_err(|_| RenderError::MissingPart {
                name: file.to_owned(),
                file: file.to_owned(),
                dir: self.source.templates_dir.display().to_string(),
            })?;
        template
            .render(context)
            .map_err(|e| template_error(&self.source.templates_dir, &e))
    }

    /// Renders the e-mail template `name`: `NAME.txt` and `NAME.html` are
    /// required; the subject comes from `NAME.subject.txt`, else from
    /// `subject` (translated), else the template is incomplete.
    pub fn render_email(
        &self,
        name: &str,
        context: &serde_json::Value,
        locale: &str,
        subject: Option<&str>,
    ) -> Result<RenderedEmail, RenderError> {
        let missing = |file: String| RenderError::MissingPart {
            name: name.to_owned(),
            file,
            dir: self.source.templates_dir.display().to_string(),
        };
        let (txt, html, subj) = (
            format!("{name}.txt"),
            format!("{name}.html"),
            format!("{name}.subject.txt"),
        );
        for file in [&txt, &html] {
            if !self.has(file) {
                return Err(missing(file.clone()));
            }
        }
        let subject = if self.has(&subj) {
            self.render_file(&subj, context, locale)?
        } else if let Some(s) = subject.filter(|s| !s.trim().is_empty()) {
            self.catalogs.gettext(locale, None, s)
        } else {
            return Err(missing(subj));
        };
        Ok(RenderedEmail {
            subject: one_line(&subject),
            text: self.render_file(&txt, context, locale)?,
            html: self.render_file(&html, context, locale)?,
        })
    }

    /// The built-in simple e-mail: subject, text and links (`[{label, url}]`),
    /// subject and text translated like lazy strings were.
    pub fn render_simple(
        &self,
        subject: &str,
        body: &str,
        links: &serde_json::Value,
        locale: &str,
    ) -> Result<RenderedEmail, RenderError> {
        let subject = one_line(&self.catalogs.gettext(locale, None, subject));
        // Built once, in minijinja's own values, for both parts: going
        // through a JSON tree for each part cost a tenth of an HTTP send.
        let links: Vec<Value> = links
            .as_array()
            .map(|a| {
                a.iter()
                    .map(|l| {
                        let field =
                            |name: &str| l.get(name).and_then(|v| v.as_str()).unwrap_or_default();
                        minijinja::context! {
                            label => self.catalogs.gettext(locale, None, field("label")),
                            url => field("url"),
                        }
                    })
                    .collect()
            })
            .unwrap_or_default();
        let body = self.catalogs.gettext(locale, None, body);
        let paragraphs: Vec<Value> = body
            .split("\n\n")
            .map(str::trim)
            .filter(|p| !p.is_empty())
            .map(Value::from)
            .collect();
        let context = minijinja::context! {
            subject => subject.as_str(),
            body => body.as_str(),
            paragraphs => paragraphs,
            links => links,
            LANGUAGE_CODE => locale,
        };
        Ok(RenderedEmail {
            text: self
                .render_value(&self.builtin, SIMPLE_TXT, context.clone())?
                .trim_end()
                .to_owned()
                + "\n",
            html: self.render_value(&self.builtin, SIMPLE_HTML, context)?,
            subject,
        })
    }
}

/// The current templates, swapped atomically by [`Templates::reload`].
pub struct Templates {
    current: ArcSwap<Renderer>,
}

impl Templates {
    pub fn load(source: &Source) -> Result<Self, RenderError> {
        Ok(Self {
            current: ArcSwap::from_pointee(Renderer::load(source, UndefinedBehavior::SemiStrict)?),
        })
    }

    pub fn get(&self) -> Arc<Renderer> {
        self.current.load_full()
    }

    /// Re-reads templates and catalogs; on error the old ones stay in use.
    pub fn reload(&self) -> Result<(), RenderError> {
        let source = self.current.load().source.clone();
        self.current.store(Arc::new(Renderer::load(
            &source,
            UndefinedBehavior::SemiStrict,
        )?));
        Ok(())
    }
}

/// An environment with Outpost's formatter, gettext functions and limits.
fn environment(
    catalogs: &Arc<Catalogs>,
    undefined: UndefinedBehavior,
    fuel: Option<u64>,
) -> Environment<'static> {
    let mut env = Environment::new();
    env.set_fuel(fuel);
    env.set_undefined_behavior(undefined);
    // Debug mode makes minijinja name the undefined expression in its errors
    // ("`messages` is undefined"). Only an error's kind and detail are ever
    // shown (never its debug info, which holds the context's values).
    env.set_debug(true);
    env.set_formatter(html_formatter);
    gettext::install(&mut env, catalogs);
    env
}

/// HTML escaping of `& < > " '` only: URLs keep their slashes readable.
fn html_formatter(
    out: &mut minijinja::Output,
    state: &mut State,
    value: &Value,
) -> Result<(), minijinja::Error> {
    match value.as_str() {
        Some(text) if *state.auto_escape() == minijinja::AutoEscape::Html && !value.is_safe() => {
            let mut escaped = String::with_capacity(text.len());
            for c in text.chars() {
                match c {
                    '&' => escaped.push_str("&amp;"),
                    '<' => escaped.push_str("&lt;"),
                    '>' => escaped.push_str("&gt;"),
                    '"' => escaped.push_str("&quot;"),
                    '\'' => escaped.push_str("&#x27;"),
                    c => escaped.push(c),
                }
            }
            out.write_str(&escaped).map_err(|e| {
                minijinja::Error::new(minijinja::ErrorKind::WriteFailure, e.to_string())
            })
        }
        _ => minijinja::escape_formatter(out, state, value),
    }
}

/// A subject as a header line: trimmed, runs of spaces and tabs collapsed.
/// A CR or LF inside is kept, so that the composer fails the message
/// rather than folding what may be a header injection.
pub fn one_line(text: &str) -> String {
    text.trim()
        .split([' ', '\t'])
        .filter(|w| !w.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

fn template_error(dir: &Path, e: &minijinja::Error) -> RenderError {
    let file = e
        .name()
        .map(|n| dir.join(n).display().to_string())
        .unwrap_or_else(|| dir.display().to_string());
    RenderError::Template {
        file,
        line: e.line(),
        message: match e.detail() {
            Some(detail) => format!("{}: {detail}", e.kind()),
            None => e.kind().to_string(),
        },
    }
}

/// Every file under `dir` as (relative name with `/`, contents); a missing
/// directory is empty.
fn read_tree(dir: &Path) -> Result<Vec<(String, String)>, RenderError> {
    let mut out = Vec::new();
    if !dir.exists() {
        return Ok(out);
    }
    let io = |e: std::io::Error| RenderError::Io {
        dir: dir.display().to_string(),
        source: std::sync::Arc::new(e),
    };
    let mut stack = vec![dir.to_path_buf()];
    while let Some(current) = stack.pop() {
        for entry in std::fs::read_dir(&current).map_err(io)? {
            let path = entry.map_err(io)?.path();
            if path.is_dir() {
                stack.push(path);
            } else if let Ok(relative) = path.strip_prefix(dir) {
                let name = relative
                    .components()
                    .map(|c| c.as_os_str().to_string_lossy())
                    .collect::<Vec<_>>()
                    .join("/");
                if name.ends_with(".json") || name.starts_with('.') {
                    continue;
                }
                out.push((name, std::fs::read_to_string(&path).map_err(io)?));
            }
        }
    }
    out.sort();
    Ok(out)
}
