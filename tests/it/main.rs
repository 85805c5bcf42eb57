//! Outpost's integration tests, one binary (as ripgrep and zero-to-production
//! arrange theirs): every area is a module, sharing one harness (`common`): a
//! real PostgreSQL with a fresh database per test, real peers (aiosmtpd,
//! Prism, HTTP fakes, Chromium), and the real `outpost` binary where a test
//! needs a process.

mod common;

mod abuse;
mod audit;
mod cli;
mod console;
mod console_login;
mod console_secrets;
mod crash;
mod databases;
mod dispatch;
mod docs;
mod email_sendgrid;
mod email_smtp;
mod escalation;
mod failover;
mod faults;
mod hostile;
mod hostile_rows;
mod housekeeping;
mod http;
mod inbox;
mod inbox_api;
mod limits;
mod ops;
mod outage;
mod pauses;
mod pg_tls;
mod pgbouncer;
mod poison;
mod push_chat;
mod recipient_controls;
mod render;
mod runner;
mod schema;
mod shape;
mod systemd;
mod tenants;
mod twilio;
mod webhook_walls;
mod webhooks;
