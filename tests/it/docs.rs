//! The documentation holds together (no database): every relative link in
//! README.md, BENCHMARKS.md, the Python client's README and docs/ reaches an
//! existing file and heading, every chapter is in docs/SUMMARY.md, and every
//! configuration key is in docs/configuration.md's key table.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use outpost::config::{DEFAULTS, RawConfig, Sources};

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The Markdown files whose links are checked: the front door, the
/// measurements, the Python client's README and everything under docs/.
fn documents() -> Vec<PathBuf> {
    let mut files = vec![
        root().join("README.md"),
        root().join("BENCHMARKS.md"),
        root().join("clients/python/README.md"),
    ];
    let mut dirs = vec![root().join("docs")];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                dirs.push(path);
            } else if path.extension().is_some_and(|e| e == "md") {
                files.push(path);
            }
        }
    }
    files.sort();
    files
}

/// The lines of a Markdown text outside fenced code blocks, numbered from 1.
fn prose_lines(text: &str) -> Vec<(usize, &str)> {
    let mut fence: Option<&str> = None;
    let mut lines = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let trimmed = line.trim_start();
        let marker = ["```", "~~~"].into_iter().find(|m| trimmed.starts_with(m));
        match (fence, marker) {
            (None, Some(m)) => fence = Some(m),
            (Some(open), Some(m)) if open == m => fence = None,
            (None, None) => lines.push((i + 1, line)),
            _ => {}
        }
    }
    lines
}

/// `line` without its inline code spans (`` `…` ``, ``` `` … `` ```), which
/// hold text such as `[("Open", url)]` that is not a link.
fn without_code_spans(line: &str) -> String {
    let mut out = String::new();
    let mut rest = line;
    while let Some(start) = rest.find('`') {
        out.push_str(&rest[..start]);
        let ticks = rest[start..].len() - rest[start..].trim_start_matches('`').len();
        let delimiter = &rest[start..start + ticks];
        let after = &rest[start + ticks..];
        match after.find(delimiter) {
            Some(end) => rest = &after[end + ticks..],
            None => {
                out.push_str(delimiter);
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

/// The targets of the inline links and images (`[text](target)`,
/// `![alt](target "title")`) and reference definitions (`[name]: target`)
/// on a line of prose.
fn link_targets(line: &str) -> Vec<String> {
    let line = without_code_spans(line);
    let mut targets = Vec::new();
    let trimmed = line.trim_start();
    if trimmed.starts_with('[')
        && let Some(end) = trimmed.find("]:")
        && let Some(target) = trimmed[end + 2..].split_whitespace().next()
    {
        targets.push(target.trim_matches(['<', '>']).to_owned());
    }
    let mut rest = line.as_str();
    while let Some(start) = rest.find("](") {
        let after = &rest[start + 2..];
        let mut depth = 0usize;
        let mut end = after.len();
        for (i, c) in after.char_indices() {
            match c {
                '(' => depth += 1,
                ')' if depth == 0 => {
                    end = i;
                    break;
                }
                ')' => depth -= 1,
                _ => {}
            }
        }
        let inside = after[..end].trim();
        let target = match inside.strip_prefix('<') {
            Some(angled) => angled.split('>').next().unwrap_or(""),
            None => inside.split_whitespace().next().unwrap_or(""),
        };
        targets.push(target.to_owned());
        rest = &after[end.min(after.len())..];
    }
    targets
}

/// GitHub's anchor for a heading: lowercase, punctuation dropped except `-`
/// and `_`, spaces turned into `-`.
fn slug(heading: &str) -> String {
    heading
        .trim()
        .to_lowercase()
        .chars()
        .filter(|c| c.is_alphanumeric() || matches!(c, '-' | '_' | ' '))
        .map(|c| if c == ' ' { '-' } else { c })
        .collect()
}

/// The anchors of a Markdown file's ATX headings; a repeated heading gets
/// `-1`, `-2`, … as on GitHub.
fn anchors(text: &str) -> BTreeSet<String> {
    let mut seen: BTreeMap<String, usize> = BTreeMap::new();
    let mut anchors = BTreeSet::new();
    for (_, line) in prose_lines(text) {
        let hashes = line.len() - line.trim_start_matches('#').len();
        if !(1..=6).contains(&hashes) || !line[hashes..].starts_with(' ') {
            continue;
        }
        let title = line[hashes..].trim().trim_end_matches('#').trim_end();
        let base = slug(title);
        let count = seen.entry(base.clone()).or_insert(0);
        anchors.insert(if *count == 0 {
            base.clone()
        } else {
            format!("{base}-{count}")
        });
        *count += 1;
    }
    anchors
}

/// Why a link from `file` to `target` does not resolve, if it does not.
fn broken(file: &Path, target: &str) -> Option<String> {
    if target.is_empty() {
        return Some("empty link".into());
    }
    if ["http://", "https://", "mailto:"]
        .iter()
        .any(|scheme| target.starts_with(scheme))
    {
        return None;
    }
    let (path, anchor) = match target.split_once('#') {
        Some((path, anchor)) => (path, Some(anchor)),
        None => (target, None),
    };
    let resolved = if path.is_empty() {
        file.to_path_buf()
    } else {
        file.parent().unwrap().join(path.replace("%20", " "))
    };
    if !resolved.exists() {
        return Some(format!("{} does not exist", resolved.display()));
    }
    let anchor = anchor?;
    if resolved.extension().is_none_or(|e| e != "md") {
        return Some(format!(
            "an anchor into {}, which is not Markdown",
            resolved.display()
        ));
    }
    let found = anchors(&read(&resolved));
    (!found.contains(anchor)).then(|| {
        format!(
            "{} has no heading whose anchor is #{anchor}",
            resolved.display()
        )
    })
}

#[test]
fn github_anchors_are_computed_as_github_does() {
    for (heading, anchor) in [
        (
            "One-click unsubscribe (RFC 8058)",
            "one-click-unsubscribe-rfc-8058",
        ),
        (
            "Reliability: what a crash can cause",
            "reliability-what-a-crash-can-cause",
        ),
        (
            "2026-12-04: the HTTP path's CPU, the allocator's purge delay",
            "2026-12-04-the-http-paths-cpu-the-allocators-purge-delay",
        ),
        ("`benches/peers/compare`", "benchespeerscompare"),
        (
            "What stands in the way of 1.2×",
            "what-stands-in-the-way-of-12",
        ),
        ("10,000,000 messages", "10000000-messages"),
        ("The SQL API", "the-sql-api"),
    ] {
        assert_eq!(slug(heading), anchor, "{heading}");
    }
    let twice = anchors("# Results\n```\n# not a heading\n```\n## Results\n");
    assert_eq!(
        twice,
        BTreeSet::from(["results".to_owned(), "results-1".to_owned()])
    );
    assert_eq!(
        link_targets("see [A](a.md#x) and ![img](b.png \"t\"), not `[c](d)` (e)"),
        ["a.md#x", "b.png"]
    );
}

#[test]
fn every_relative_link_in_the_docs_resolves() {
    let mut problems = Vec::new();
    let mut checked = 0;
    for file in documents() {
        let text = read(&file);
        for (number, line) in prose_lines(&text) {
            for target in link_targets(line) {
                checked += 1;
                if let Some(why) = broken(&file, &target) {
                    let name = file.strip_prefix(root()).unwrap().display();
                    problems.push(format!("{name}:{number}: ({target}): {why}"));
                }
            }
        }
    }
    assert!(
        checked > 50,
        "only {checked} links found: is the parser right?"
    );
    assert!(
        problems.is_empty(),
        "broken links:\n{}",
        problems.join("\n")
    );
}

#[test]
fn every_chapter_is_in_the_summary() {
    let summary = read(&root().join("docs/SUMMARY.md"));
    let listed: BTreeSet<String> = prose_lines(&summary)
        .into_iter()
        .flat_map(|(_, line)| link_targets(line))
        .collect();
    for file in documents() {
        let Ok(chapter) = file.strip_prefix(root().join("docs")) else {
            continue;
        };
        let chapter = chapter.to_str().unwrap();
        if chapter != "SUMMARY.md" {
            assert!(
                listed.contains(chapter),
                "docs/SUMMARY.md does not list {chapter}"
            );
        }
    }
}

/// Maps whose keys are free-form names (kinds, tenants, languages): the table
/// documents them once, with a placeholder (`dispatch.kind_concurrency.<kind>`,
/// `twilio.voices.LANG.…`).
const FREE_FORM: [&str; 5] = [
    "dispatch.kind_concurrency",
    "limits.daily",
    "limits.rate",
    "quiet_hours.tenants",
    "twilio.voices",
];

/// The dotted keys of a configuration value, with `*` for a free-form name.
fn dotted_keys(value: &toml::Value, path: &str, keys: &mut BTreeSet<String>) {
    let toml::Value::Table(table) = value else {
        keys.insert(path.to_owned());
        return;
    };
    if FREE_FORM.contains(&path) {
        let any = format!("{path}.*");
        if table.is_empty() {
            keys.insert(any.clone());
        }
        for child in table.values() {
            dotted_keys(child, &any, keys);
        }
        return;
    }
    for (name, child) in table {
        let key = if path.is_empty() {
            name.clone()
        } else {
            format!("{path}.{name}")
        };
        dotted_keys(child, &key, keys);
    }
}

/// The keys in the first column of docs/configuration.md's `| key | …` table.
/// A cell may abbreviate: in "`console.login_burst`, `.login_address_burst`"
/// the second is `console.login_address_burst` (a `.name` after a full key in
/// the same cell belongs to that key's section), and `a.{b,c}` is `a.b` and
/// `a.c`.
fn documented_keys(markdown: &str) -> BTreeSet<String> {
    let mut keys = BTreeSet::new();
    let mut in_table = false;
    for line in markdown.lines() {
        let cells: Vec<&str> = line.split('|').map(str::trim).collect();
        if !line.starts_with('|') {
            in_table = false;
            continue;
        }
        if cells.get(1) == Some(&"key") {
            in_table = true;
            continue;
        }
        if !in_table || cells[1].starts_with("---") {
            continue;
        }
        let mut section: Option<String> = None;
        for span in cells[1].split('`').skip(1).step_by(2) {
            let full = match (span.strip_prefix('.'), &section) {
                (Some(name), Some(section)) => format!("{section}.{name}"),
                (Some(_), None) => panic!("{span} follows no full key: {line}"),
                (None, _) => {
                    let (parent, _) = span
                        .split_once(".{")
                        .or_else(|| span.rsplit_once('.'))
                        .unwrap_or_else(|| panic!("{span} is not a dotted key: {line}"));
                    section = Some(parent.to_owned());
                    span.to_owned()
                }
            };
            match full.split_once(".{") {
                Some((parent, names)) => {
                    for name in names.trim_end_matches('}').split(',') {
                        keys.insert(format!("{parent}.{}", name.trim()));
                    }
                }
                None => {
                    keys.insert(full);
                }
            }
        }
    }
    keys
}

/// Whether a documented key names an actual one; a placeholder segment
/// (`<kind>`, `LANG`) stands for a free-form name (`*`) and nothing else.
fn documented_as(documented: &str, actual: &str) -> bool {
    let placeholder = |s: &str| {
        (s.starts_with('<') && s.ends_with('>'))
            || (!s.is_empty() && s.chars().all(|c| c.is_ascii_uppercase()))
    };
    let (d, a): (Vec<&str>, Vec<&str>) =
        (documented.split('.').collect(), actual.split('.').collect());
    d.len() == a.len()
        && d.iter()
            .zip(&a)
            .all(|(d, a)| d == a || (*a == "*" && placeholder(d)))
}

#[test]
fn every_configuration_key_is_in_the_configuration_chapter() {
    let raw = RawConfig::load(&Sources {
        file: None,
        env: vec![],
    })
    .unwrap();
    let mut keys = BTreeSet::new();
    dotted_keys(&toml::Value::try_from(&raw).unwrap(), "", &mut keys);
    dotted_keys(
        &toml::Value::Table(toml::from_str(DEFAULTS).unwrap()),
        "",
        &mut keys,
    );
    for key in [
        "ops.enabled",
        "ops.listen",
        "ops.metrics_token",
        "ops.refresh_interval",
        "ops.max_connections",
        "console.header_timeout",
        "console.keep_alive_timeout",
        "console.max_connections",
        "email.smtp.idle_check",
        "dispatch.kind_concurrency.*",
        "quiet_hours.tenants.*",
        "twilio.voices.*.voice",
    ] {
        assert!(
            keys.contains(key),
            "{key} is not a configuration key: {keys:?}"
        );
    }

    let documented = documented_keys(&read(&root().join("docs/configuration.md")));
    let missing: Vec<&String> = keys
        .iter()
        .filter(|k| !documented.iter().any(|d| documented_as(d, k)))
        .collect();
    assert!(
        missing.is_empty(),
        "docs/configuration.md's key table lacks {missing:?}"
    );
    let unknown: Vec<&String> = documented
        .iter()
        .filter(|d| !keys.iter().any(|k| documented_as(d, k)))
        .collect();
    assert!(
        unknown.is_empty(),
        "docs/configuration.md's key table names keys that do not exist: {unknown:?}"
    );
}
