//! Outpost: a durable, outbox-driven notification daemon on Postgres.
//!
//! Module map:
//! - [`config`]: raw TOML/env values → a validated [`config::Config`].
//! - [`db`]: the connection pool, embedded migrations and every SQL statement.
//! - [`message`]: the outbox row types shared by the dispatcher and channels.
//! - [`recipient`]: turns `to_user`/`to_address` into the address a kind needs.
//! - [`channel`]: the `Channel` trait and its backends (console for now).
//! - [`dispatch`]: claim loop, retry policy, outcome recording, rescuer, LISTEN.
//! - [`daemon`]: wires the dispatcher, listener and rescuer into `outpost run`.
//! - [`enqueue`] and [`status`]: what `outpost send` and `outpost status` do.
//! - [`render`]: templates (minijinja) and gettext catalogs, reloadable.
//! - [`tls`]: the one rustls crypto provider.
//! - [`cluster`]: a throwaway local PostgreSQL for `outpost dev` and the tests.

pub mod bench;
pub mod channel;
pub mod cluster;
pub mod config;
pub mod daemon;
pub mod db;
pub mod dispatch;
pub mod enqueue;
pub mod housekeeping;
pub mod http;
pub mod inbound;
pub mod message;
pub mod metrics;
pub mod recipient;
pub mod render;
pub mod schedule;
pub mod signature;
pub mod status;
pub mod tls;
