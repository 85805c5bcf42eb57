//! The console's SQL, one named file each under `src/db/queries/console_*.sql`.

use crate::db::Pg;
use std::sync::LazyLock;

/// One change made through the console.
pub const AUDIT_INSERT: &str = include_str!("../db/queries/console_audit_insert.sql");
/// Audit entries older than id $1 (all when NULL), of actor $2 (all when NULL), newest first,
/// at most $3.
pub const AUDIT_PAGE: &str = include_str!("../db/queries/console_audit_page.sql");
/// Outpost.cancel for one message; its id, or NULL when it is no longer queued.
pub const CANCEL: &str = include_str!("../db/queries/console_cancel.sql");
/// Daemon $1 (host $2, pid $3, version $4) is alive, with its circuits $5.
pub const DAEMON_BEAT: &str = include_str!("../db/queries/console_daemon_beat.sql");
/// Daemon $1 stopped cleanly; also forget daemons silent for a day.
pub const DAEMON_GONE: &str = include_str!("../db/queries/console_daemon_gone.sql");
/// The status of message $1.
pub const MESSAGE_STATUS: &str = include_str!("../db/queries/console_message_status.sql");
/// The database clock, which every timestamp the console shows comes from.
pub const NOW: &str = include_str!("../db/queries/console_now.sql");
/// Every daemon's heartbeat with its age in seconds, most recent first.
pub const DAEMONS: &str = include_str!("../db/queries/console_daemons.sql");
/// Attachment $2 of received e-mail $1, with its content.
pub const INBOUND_ATTACHMENT: &str = include_str!("../db/queries/console_inbound_attachment.sql");
/// The attachments of received e-mail $1, without content.
pub const INBOUND_ATTACHMENTS: &str = include_str!("../db/queries/console_inbound_attachments.sql");
/// Received e-mail $1.
pub const INBOUND_GET: &str = include_str!("../db/queries/console_inbound_get.sql");
/// Received e-mails before id $1 (all when NULL), newest first, at most $2, with their verdicts
/// and attachment counts.
pub const INBOUND_LIST: &str = include_str!("../db/queries/console_inbound_list.sql");
/// One message with everything the console shows.
pub const MESSAGE: &str = include_str!("../db/queries/console_message.sql");
/// The escalation chain a message belongs to.
pub const MESSAGE_CHAIN: &str = include_str!("../db/queries/console_message_chain.sql");
/// Chat messages outbox message $1 became.
pub const MESSAGE_CHAT: &str = include_str!("../db/queries/console_message_chat.sql");
/// Provider events about message $1, in arrival order.
pub const MESSAGE_EVENTS: &str = include_str!("../db/queries/console_message_events.sql");
/// Remove tenant $1's messaging configuration.
pub const MESSAGING_DELETE: &str = include_str!("../db/queries/console_messaging_delete.sql");
/// Tenant $1's messaging configuration.
pub const MESSAGING_GET: &str = include_str!("../db/queries/console_messaging_get.sql");
/// Every tenant's messaging configuration.
pub const MESSAGING_LIST: &str = include_str!("../db/queries/console_messaging_list.sql");
/// Set tenant $1's messaging configuration.
pub const MESSAGING_UPSERT: &str = include_str!("../db/queries/console_messaging_upsert.sql");
/// Attempts finished since $1, by $2 ('minute' or 'hour') and outcome: sent, failed, retried
/// (retry) and unknown.
pub const OVERVIEW_ACTIVITY: &str = include_str!("../db/queries/console_overview_activity.sql");
/// Messages by kind and status: every queued and sending one (partial indexes), and the others
/// created in the last 24 hours (message_keys_created_idx), so the page costs the same at any table
/// size.
pub const OVERVIEW_COUNTS: &str = include_str!("../db/queries/console_overview_counts.sql");
/// The queue by tenant and kind, for the overview.
pub const OVERVIEW_TENANTS: &str = include_str!("../db/queries/console_overview_tenants.sql");
/// Enable ($2 true) or disable push app $1.
pub const PUSH_ENABLE: &str = include_str!("../db/queries/console_push_enable.sql");
/// Push app $1, secret included (for test pushes; never shown).
pub const PUSH_GET: &str = include_str!("../db/queries/console_push_get.sql");
/// A new push app.
pub const PUSH_INSERT: &str = include_str!("../db/queries/console_push_insert.sql");
/// The eGuide apps of outpost.push_apps; the master secret only as set / not set.
pub const PUSH_LIST: &str = include_str!("../db/queries/console_push_list.sql");
/// Edit push app $1; the master secret becomes $3 when not NULL, else is kept unless the
/// base URL changes (then cleared; `cleared` says so).
pub const PUSH_UPDATE: &str = include_str!("../db/queries/console_push_update.sql");
/// Outpost.retry for one message; its id, or NULL when it cannot be retried.
pub const RETRY: &str = include_str!("../db/queries/console_retry.sql");
/// Enable ($2 true) or disable schedule $1.
pub const SCHEDULE_ENABLE: &str = include_str!("../db/queries/console_schedule_enable.sql");
/// Every schedule.
pub const SCHEDULES_LIST: &str = include_str!("../db/queries/console_schedules_list.sql");
/// End the session whose token hashes to $1 (logout).
pub const SESSION_DELETE: &str = include_str!("../db/queries/console_session_delete.sql");
/// A new session (token hash $1) for user $2 with form token $3, from address $4, idle for at
/// most $5 seconds.
pub const SESSION_INSERT: &str = include_str!("../db/queries/console_session_insert.sql");
/// The live session whose token hashes to $1 (idle under $2 seconds, younger than $3), its
/// idle expiry pushed $2 seconds from now but not past its absolute end.
pub const SESSION_TOUCH: &str = include_str!("../db/queries/console_session_touch.sql");
/// End every session of console user $1.
pub const SESSIONS_DELETE_USER: &str =
    include_str!("../db/queries/console_sessions_delete_user.sql");
/// Forget sessions that have expired.
pub const SESSIONS_PURGE: &str = include_str!("../db/queries/console_sessions_purge.sql");
/// Delete SMTP server $1.
pub const SMTP_DELETE: &str = include_str!("../db/queries/console_smtp_delete.sql");
/// Enable ($2 true) or disable SMTP server $1.
pub const SMTP_ENABLE: &str = include_str!("../db/queries/console_smtp_enable.sql");
/// SMTP server $1, password included (for tests of it; never shown).
pub const SMTP_GET: &str = include_str!("../db/queries/console_smtp_get.sql");
/// A new SMTP server, last in order unless $7 is given.
pub const SMTP_INSERT: &str = include_str!("../db/queries/console_smtp_insert.sql");
/// Every SMTP server in the order smtp_db picks them (enabled first, lowest "order"); the
/// password only as set / not set.
pub const SMTP_LIST: &str = include_str!("../db/queries/console_smtp_list.sql");
/// Move SMTP server $1 one place up ($2 = 'up') or down in "order", by swapping orders with its
/// neighbour (ties broken by id).
pub const SMTP_SWAP: &str = include_str!("../db/queries/console_smtp_swap.sql");
/// Edit SMTP server $1; the password becomes $6 when not NULL, else is kept unless the
/// host, port, user name or security changes (then cleared; `cleared` says so).
pub const SMTP_UPDATE: &str = include_str!("../db/queries/console_smtp_update.sql");
/// Suppress address $2 (normalised) of family $1 with reason $3.
pub const SUPPRESSION_ADD: &str = include_str!("../db/queries/console_suppression_add.sql");
/// Lift the suppression of address $2 of family $1.
pub const SUPPRESSION_REMOVE: &str = include_str!("../db/queries/console_suppression_remove.sql");
/// Suppressions of family $1 (all when NULL) whose address starts with $2 (normalised; all when
/// NULL), newest first, created before $3 (keyset), at most $4.
pub const SUPPRESSIONS_SEARCH: &str = include_str!("../db/queries/console_suppressions_search.sql");
/// Remove console user $1 (its sessions go with it).
pub const USER_DELETE: &str = include_str!("../db/queries/console_user_delete.sql");
/// Console user $1 with its password hash.
pub const USER_FIND: &str = include_str!("../db/queries/console_user_find.sql");
/// Add console user $1 with role $2 and password hash $3, or replace the role and hash of an
/// existing one.
pub const USER_UPSERT: &str = include_str!("../db/queries/console_user_upsert.sql");

/// Webhook endpoint $1 (the secret as a prefix only).
pub const WEBHOOK_GET: &str = include_str!("../db/queries/console_webhook_get.sql");
/// Deliveries to webhook endpoint $1 before message $2 (all when NULL), newest first, at most $3.
pub const WEBHOOK_DELIVERIES: &str = include_str!("../db/queries/console_webhook_deliveries.sql");
/// Enable ($2 true) or disable webhook endpoint $1 with reason $3 (its queued deliveries cancelled).
pub const WEBHOOK_ENABLE: &str = include_str!("../db/queries/console_webhook_enable.sql");
/// A new webhook endpoint; its id.
pub const WEBHOOK_INSERT: &str = include_str!("../db/queries/console_webhook_insert.sql");
/// Every webhook endpoint (the secret as a prefix only) with its pending and failed deliveries.
pub const WEBHOOK_LIST: &str = include_str!("../db/queries/console_webhook_list.sql");
/// Replays webhook delivery $1; the new delivery's id and its endpoint.
pub const WEBHOOK_REPLAY: &str = include_str!("../db/queries/console_webhook_replay.sql");

/// The search's WHERE clause, shared by the page, the count and the bulk actions.
const MESSAGE_FILTER: &str = include_str!("../db/queries/console_message_filter.sql");

fn with_filter(sql: &str) -> String {
    let filter: String = MESSAGE_FILTER
        .lines()
        .filter(|l| !l.trim_start().starts_with("--"))
        .collect::<Vec<_>>()
        .join("\n");
    sql.replace("WHERE {filter}", &format!("WHERE ({filter})"))
}

/// One page of the message search.
pub static MESSAGES_PAGE: LazyLock<String> =
    LazyLock::new(|| with_filter(include_str!("../db/queries/console_messages_page.sql")));
/// How many messages match, and how many a bulk action would touch.
pub static MESSAGES_COUNT: LazyLock<String> =
    LazyLock::new(|| with_filter(include_str!("../db/queries/console_messages_count.sql")));
/// Retries every matching finished message.
pub static MESSAGES_RETRY: LazyLock<String> =
    LazyLock::new(|| with_filter(include_str!("../db/queries/console_messages_retry.sql")));
/// Cancels every matching queued message.
pub static MESSAGES_CANCEL: LazyLock<String> =
    LazyLock::new(|| with_filter(include_str!("../db/queries/console_messages_cancel.sql")));

/// The one row `sql` finds, or the console's 404.
pub(crate) async fn found(
    client: &impl Pg,
    sql: &str,
    params: &[&(dyn tokio_postgres::types::ToSql + Sync)],
) -> super::Result<tokio_postgres::Row> {
    client
        .pg_query_opt(sql, params)
        .await?
        .ok_or(super::ConsoleError::NotFound)
}

/// Every row decoded as a `T`.
pub(crate) fn decode<T>(rows: &[tokio_postgres::Row]) -> super::Result<Vec<T>>
where
    T: for<'a> TryFrom<&'a tokio_postgres::Row, Error = tokio_postgres::Error>,
{
    Ok(rows.iter().map(T::try_from).collect::<Result<_, _>>()?)
}

/// The key of the next page (keyset pagination): the last item's, when the
/// page is full.
pub(crate) fn next_key<T, K>(items: &[T], page: i64, key: impl Fn(&T) -> K) -> Option<K> {
    items.last().filter(|_| items.len() as i64 == page).map(key)
}
