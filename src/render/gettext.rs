//! The gettext functions inside templates: `_`, `gettext`, `pgettext` and
//! `ngettext`, with `%(name)s` placeholders filled from keyword arguments.

use std::sync::Arc;

use minijinja::value::Kwargs;
use minijinja::{Environment, State, Value};

use super::catalog::Catalogs;

/// `_`, `gettext`, `pgettext` and `ngettext`, translating into
/// the render's `LANGUAGE_CODE`. Keyword arguments fill `%(name)s`
/// placeholders; the plural forms also fill `%(count)s`/`%(count)d`/`%d` with n.
pub(super) fn install(env: &mut Environment<'static>, catalogs: &Arc<Catalogs>) {
    fn locale(state: &State) -> String {
        state
            .lookup("LANGUAGE_CODE")
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default()
    }
    let c = catalogs.clone();
    let gettext =
        move |state: &State, msgid: String, kwargs: Kwargs| -> Result<String, minijinja::Error> {
            fill(c.gettext(&locale(state), None, &msgid), &kwargs, None)
        };
    env.add_function("_", gettext.clone());
    env.add_function("gettext", gettext);
    let c = catalogs.clone();
    env.add_function(
        "pgettext",
        move |state: &State, context: String, msgid: String, kwargs: Kwargs| {
            fill(
                c.gettext(&locale(state), Some(&context), &msgid),
                &kwargs,
                None,
            )
        },
    );
    let c = catalogs.clone();
    env.add_function(
        "ngettext",
        move |state: &State, singular: String, plural: String, n: i64, kwargs: Kwargs| {
            let n = n.unsigned_abs();
            fill(
                c.ngettext(&locale(state), None, &singular, &plural, n),
                &kwargs,
                Some(n),
            )
        },
    );
}

/// Replaces `%(name)s` / `%(name)d` with keyword arguments (and the count).
fn fill(text: String, kwargs: &Kwargs, n: Option<u64>) -> Result<String, minijinja::Error> {
    let mut values: Vec<(String, String)> = Vec::new();
    for key in kwargs.args() {
        let value: Value = kwargs.get(key)?;
        if value.is_undefined() {
            // Filled in silently, this rendered "Welcome to , Ann".
            return Err(minijinja::Error::new(
                minijinja::ErrorKind::UndefinedError,
                format!("`{key}` is undefined (passed as {key}= to a translation)"),
            ));
        }
        values.push((key.to_owned(), value.to_string()));
    }
    if let Some(n) = n {
        for key in ["count", "n"] {
            if !values.iter().any(|(k, _)| k == key) {
                values.push((key.to_owned(), n.to_string()));
            }
        }
    }
    Ok(substitute(&text, &values, n))
}

/// Fills placeholders in one pass over `text`: an inserted value is never
/// scanned again, so a value that looks like a placeholder stays as written.
/// Unknown placeholders are left as they are.
fn substitute(text: &str, values: &[(String, String)], n: Option<u64>) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find('%') {
        out.push_str(&rest[..at]);
        let tail = &rest[at..];
        if let (Some(n), Some(after)) = (n, tail.strip_prefix("%d")) {
            out.push_str(&n.to_string());
            rest = after;
            continue;
        }
        let named = tail.strip_prefix("%(").and_then(|inner| {
            let close = inner.find(')')?;
            let after = inner[close + 1..]
                .strip_prefix('s')
                .or_else(|| inner[close + 1..].strip_prefix('d'))?;
            let (_, value) = values.iter().find(|(k, _)| k == &inner[..close])?;
            Some((value, after))
        });
        match named {
            Some((value, after)) => {
                out.push_str(value);
                rest = after;
            }
            None => {
                out.push('%');
                rest = &tail[1..];
            }
        }
    }
    out.push_str(rest);
    out
}
