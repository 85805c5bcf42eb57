//! Outpost: a durable, outbox-driven notification daemon on Postgres.
//!
//! Module map:
//! - [`config`]: raw TOML/env values (and the original Django names) → a
//!   validated [`config::Config`] whose errors name the key.
//! - [`db`]: connections (TLS per `sslmode`), embedded migrations and every
//!   SQL statement, one named file each; [`pools`]: the pool policy.
//! - [`message`]: the outbox row types shared by the dispatcher and channels;
//!   [`options`]: a message's `options`, typed per kind.
//! - [`recipient`]: the address the claim decided for a message, or why it has none.
//! - [`channel`]: the `Channel` trait and its backends: e-mail (SMTP,
//!   smtp_db, SendGrid), Twilio SMS and voice, Airship push, in-app chat, and
//!   for each kind a stdout backend (configured as `console`) that prints.
//! - [`dispatch`]: claim loop, delivery, retry policy, circuit breakers,
//!   batched outcome recording, rescuer, LISTEN.
//! - [`daemon`]: wires dispatcher, listener, rescuer, housekeeping and the
//!   three HTTP listeners (webhooks, console, operations) into `outpost run`;
//!   [`descriptors`] fits their connection caps in the file limit.
//! - [`render`]: templates (minijinja) and gettext catalogs, reloadable.
//! - [`http`], [`inbound_mail`], [`signature`], [`metrics`]: inbound mail, provider
//!   callbacks with their signatures, health, readiness and metrics (the
//!   queue gauges refreshed in the background, `metrics::refresh`).
//! - [`scrub`]: addresses masked for INFO logs, credentials masked in provider errors.
//! - [`storable`]: received text with NUL made storable in PostgreSQL.
//! - [`schedule`] and [`housekeeping`]: recurring messages and cron jobs.
//! - [`enqueue`] and [`status`]: what `outpost send`, `status` and `stats` do.
//! - [`console`] and [`presence`]: the operator console on its own listener,
//!   and the daemons' heartbeats it shows.
//! - [`digest`]: a message that carries others of its group, as one send.
//! - [`unsubscribe`] and [`quiet_hours`]: signed one-click unsubscribe
//!   tokens and their headers; quiet-hours windows across time zones.
//! - [`tls`]: the one rustls crypto provider.
//! - [`cluster`]: a throwaway local PostgreSQL for `outpost dev` and the tests.
//! - [`phone`] and [`suppression`]: E.164 numbers; which recipients are suppressed.
//! - [`allocator`]: how soon mimalloc gives freed memory back.
//! - [`pause`]: a kind, a provider or a tenant paused by the operator.
//! - [`inbox`]: the real-time inbox's tokens and the hub that fans chat
//!   notifications out to the open streams (served by `http::inbox`).

#![deny(rustdoc::broken_intra_doc_links)]

pub mod allocator;
pub mod channel;
pub mod cluster;
pub mod config;
pub mod console;
pub mod daemon;
pub mod db;
pub mod descriptors;
pub mod digest;
pub mod dispatch;
pub mod enqueue;
pub mod housekeeping;
pub mod http;
pub mod inbound_mail;
pub mod inbox;
pub mod message;
pub mod metrics;
pub mod options;
pub mod pause;
pub mod phone;
pub mod pools;
pub mod presence;
pub mod quiet_hours;
pub mod recipient;
pub mod render;
pub mod schedule;
pub mod scrub;
pub mod signature;
pub mod status;
pub mod storable;
pub mod suppression;
pub mod tls;
pub mod unsubscribe;

#[cfg(test)]
mod module_map {
    /// The module map above names every public module (rustdoc denies the
    /// names that do not exist; this catches the modules it forgets).
    #[test]
    fn names_every_module() {
        let source = include_str!("lib.rs");
        let map: String = source
            .lines()
            .take_while(|l| l.starts_with("//!"))
            .collect();
        for module in source
            .lines()
            .filter_map(|l| l.strip_prefix("pub mod "))
            .map(|l| l.trim_end_matches(';'))
        {
            assert!(
                map.contains(&format!("[`{module}`]")),
                "the module map in lib.rs does not name `{module}`"
            );
        }
    }

    /// No two public types share a name anywhere in the library.
    #[test]
    fn one_name_per_type() {
        fn walk(dir: &std::path::Path, out: &mut Vec<(String, String)>) {
            for entry in std::fs::read_dir(dir).unwrap() {
                let path = entry.unwrap().path();
                if path.is_dir() {
                    walk(&path, out);
                } else if path.extension().is_some_and(|e| e == "rs") {
                    let text = std::fs::read_to_string(&path).unwrap();
                    for line in text.lines() {
                        let line = line.trim_start();
                        let rest = line
                            .strip_prefix("pub(crate) ")
                            .or_else(|| line.strip_prefix("pub "));
                        let Some(rest) = rest else { continue };
                        for keyword in ["struct ", "enum ", "type ", "trait "] {
                            if let Some(name) = rest.strip_prefix(keyword) {
                                let name: String = name
                                    .chars()
                                    .take_while(|c| c.is_alphanumeric() || *c == '_')
                                    .collect();
                                out.push((name, path.display().to_string()));
                            }
                        }
                    }
                }
            }
        }
        let mut types = Vec::new();
        walk(
            &std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src"),
            &mut types,
        );
        types.sort();
        let twice: Vec<_> = types
            .windows(2)
            .filter(|w| w[0].0 == w[1].0)
            .map(|w| format!("{} ({} and {})", w[0].0, w[0].1, w[1].1))
            .collect();
        assert!(twice.is_empty(), "types sharing a name: {twice:?}");
    }
}
