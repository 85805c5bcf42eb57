//! `outpost templates check`: every template rendered in every locale.

use anyhow::{Result, bail};
use outpost::config::Config;

pub(crate) fn check(config: &Config) -> Result<()> {
    let report = outpost::render::check::check(&config.template_source())?;
    for problem in &report.problems {
        match &problem.locale {
            Some(locale) => println!("{} (locale {locale})", problem.error),
            None => println!("{}", problem.error),
        }
    }
    eprintln!(
        "{} renders in locales {}: {} problem(s)",
        report.rendered,
        report.locales.join(", "),
        report.problems.len()
    );
    if !report.problems.is_empty() {
        bail!("template check failed");
    }
    Ok(())
}
