//! gettext catalogs: every `LANG/LC_MESSAGES/*.po` under the locale directory
//! (Django's layout), with plural forms, contexts and the fallback chain
//! `de-AT → de → default`.

use std::collections::HashMap;
use std::path::Path;

use super::RenderError;
use super::plural::Expr;

/// One language's translations, merged from all its `.po` files.
#[derive(Debug, Clone)]
pub struct Catalog {
    plural: Expr,
    entries: HashMap<(Option<String>, String), Entry>,
}

#[derive(Debug, Clone)]
enum Entry {
    Singular(String),
    Plural(Vec<String>),
}

/// All languages' catalogs, keyed by normalised language (`de-at`, `ro`).
#[derive(Debug, Clone, Default)]
pub struct Catalogs {
    languages: HashMap<String, Catalog>,
    default: String,
}

/// `de_AT`, `de-AT` and `de-at` all become `de-at`.
pub fn normalise(locale: &str) -> String {
    locale.trim().replace('_', "-").to_ascii_lowercase()
}

impl Catalogs {
    /// Loads `dir/LANG/LC_MESSAGES/*.po`. A missing directory means no
    /// translations (every string renders as written).
    pub fn load(dir: &Path, default_locale: &str) -> Result<Self, RenderError> {
        let mut languages = HashMap::new();
        let Ok(entries) = std::fs::read_dir(dir) else {
            return Ok(Self {
                languages,
                default: normalise(default_locale),
            });
        };
        for entry in entries.flatten() {
            let messages_dir = entry.path().join("LC_MESSAGES");
            let Some(lang) = entry.file_name().to_str().map(normalise) else {
                continue;
            };
            let Ok(files) = std::fs::read_dir(&messages_dir) else {
                continue;
            };
            let mut paths: Vec<_> = files
                .flatten()
                .map(|f| f.path())
                .filter(|p| p.extension().is_some_and(|e| e == "po"))
                .collect();
            paths.sort();
            for path in paths {
                let parsed = load_po(&path)?;
                match languages.get_mut(&lang) {
                    None => {
                        languages.insert(lang.clone(), parsed);
                    }
                    Some(existing) => {
                        let existing: &mut Catalog = existing;
                        existing.entries.extend(parsed.entries);
                    }
                }
            }
        }
        Ok(Self {
            languages,
            default: normalise(default_locale),
        })
    }

    /// The languages that have a catalog, sorted.
    pub fn languages(&self) -> Vec<String> {
        let mut langs: Vec<String> = self.languages.keys().cloned().collect();
        langs.sort();
        langs
    }

    /// Catalogs to try for `locale`, most specific first, ending with the default's.
    fn chain(&self, locale: &str) -> Vec<&Catalog> {
        let mut names = Vec::new();
        for loc in [normalise(locale), self.default.clone()] {
            let base = loc.split('-').next().unwrap_or_default().to_owned();
            for name in [loc, base] {
                if !names.contains(&name) {
                    names.push(name);
                }
            }
        }
        names.iter().filter_map(|n| self.languages.get(n)).collect()
    }

    /// Translates `msgid` (in `context`, if any) into `locale`; untranslated
    /// strings come back as written.
    pub fn gettext(&self, locale: &str, context: Option<&str>, msgid: &str) -> String {
        let key = (context.map(str::to_owned), msgid.to_owned());
        for catalog in self.chain(locale) {
            match catalog.entries.get(&key) {
                Some(Entry::Singular(s)) => return s.clone(),
                Some(Entry::Plural(forms)) if !forms.is_empty() => return forms[0].clone(),
                _ => {}
            }
        }
        msgid.to_owned()
    }

    /// The plural form of `singular`/`plural` for `n` in `locale`.
    pub fn ngettext(
        &self,
        locale: &str,
        context: Option<&str>,
        singular: &str,
        plural: &str,
        n: u64,
    ) -> String {
        let key = (context.map(str::to_owned), singular.to_owned());
        for catalog in self.chain(locale) {
            if let Some(Entry::Plural(forms)) = catalog.entries.get(&key) {
                let index = catalog.plural.eval(n) as usize;
                if let Some(form) = forms.get(index).filter(|f| !f.is_empty()) {
                    return form.clone();
                }
            }
        }
        if n == 1 { singular } else { plural }.to_owned()
    }
}

fn load_po(path: &Path) -> Result<Catalog, RenderError> {
    let invalid = |reason: String| RenderError::Catalog {
        file: path.display().to_string(),
        reason,
    };
    let po = polib::po_file::parse(path).map_err(|e| invalid(e.to_string()))?;
    let rules = &po.metadata.plural_rules;
    let plural = Expr::parse(&rules.expr).map_err(|e| invalid(e.to_string()))?;
    let mut entries = HashMap::new();
    for m in po.messages() {
        if m.is_fuzzy() || !m.is_translated() || m.msgid().is_empty() {
            continue;
        }
        let key = (m.msgctxt().map(str::to_owned), m.msgid().to_owned());
        let entry = if m.is_plural() {
            match m.msgstr_plural() {
                Ok(forms) => Entry::Plural(forms.clone()),
                Err(_) => continue,
            }
        } else {
            match m.msgstr() {
                Ok(s) => Entry::Singular(s.to_owned()),
                Err(_) => continue,
            }
        };
        entries.insert(key, entry);
    }
    Ok(Catalog { plural, entries })
}
