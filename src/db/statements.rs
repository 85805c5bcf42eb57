//! Every SQL statement the daemon runs, one named file each under
//! `src/db/queries/`.

use super::Relation;

/// Claims a batch; `{recipients}` is replaced by the configured relation.
const CLAIM: &str = include_str!("queries/claim.sql");
/// Inside the claim's transaction: plan the claim once per connection.
pub const CLAIM_PLAN_ONCE: &str = include_str!("queries/claim_plan_once.sql");
/// Instead, behind a transaction pooler: the session settings it cannot send.
pub const CLAIM_POOLED: &str = include_str!("queries/claim_pooled.sql");
/// Writes a batch of outcomes and their attempt rows, guarded by the lease.
pub const RECORD: &str = include_str!("queries/record.sql");
/// Requeues (or fails) messages whose lease expired.
pub const RESCUE: &str = include_str!("queries/rescue.sql");
/// Ends queued messages past their `expires_at`.
pub const EXPIRE: &str = include_str!("queries/expire.sql");
/// Returns a stopping worker's unfinished messages to the queue.
pub const RELEASE: &str = include_str!("queries/release.sql");
/// Extends the leases of messages still in flight.
pub const RENEW: &str = include_str!("queries/renew.sql");
/// Inserts one message through `outpost.enqueue`.
pub const ENQUEUE: &str = include_str!("queries/enqueue.sql");
/// One message, for `outpost status ID`.
pub const MESSAGE: &str = include_str!("queries/message.sql");
/// Its attempts, oldest first.
pub const MESSAGE_ATTEMPTS: &str = include_str!("queries/message_attempts.sql");
/// Counts by kind and status, for `outpost status`.
pub const STATUS_COUNTS: &str = include_str!("queries/status_counts.sql");
/// Queued and sending messages by kind, from the partial indexes only.
pub const QUEUE_COUNTS: &str = include_str!("queries/queue_counts.sql");
/// Age of the oldest due queued message.
pub const OLDEST_QUEUED: &str = include_str!("queries/oldest_queued.sql");

/// The message's one shape, after the rows of `claimed` and `members`.
const MESSAGE_SHAPE: &str = include_str!("queries/message_shape.sql");
/// One message's rows for the shape, unclaimed (the console's preview).
const MESSAGE_PREVIEW: &str = include_str!("queries/message_preview.sql");

/// The claim statement for a recipients relation.
pub fn claim(recipients: &Relation) -> String {
    shaped(CLAIM, recipients)
}

/// Message `$1` in the claim's shape, unclaimed, for a recipients relation.
pub fn message_preview(recipients: &Relation) -> String {
    shaped(MESSAGE_PREVIEW, recipients)
}

fn shaped(rows: &str, recipients: &Relation) -> String {
    format!("{}, {}", rows.trim_end(), MESSAGE_SHAPE).replace("{recipients}", recipients.quoted())
}
/// A send slot for a phone number, under `limits.phone_per_hour`.
pub const PHONE_SEND_SLOT: &str = include_str!("queries/phone_send_slot.sql");
/// A slot of a tenant's daily cap of a kind (`[limits.daily]`).
pub const TENANT_DAY_SLOT: &str = include_str!("queries/tenant_day_slot.sql");
/// Spends what a claim took from the rated tenants' buckets (`[limits.rate]`).
pub const TENANT_RATE_SPEND: &str = include_str!("queries/tenant_rate_spend.sql");
/// Each rated tenant's bucket now, and its due messages.
pub const TENANT_RATES: &str = include_str!("queries/tenant_rates.sql");
/// What each tenant has sent of each kind today.
pub const TENANT_DAYS: &str = include_str!("queries/tenant_days.sql");
/// Writes a message again as its fallback kind.
pub const FALL_BACK: &str = include_str!("queries/fall_back.sql");
/// Pauses a kind, a provider or a tenant.
pub const PAUSE: &str = include_str!("queries/pause.sql");
/// Resumes one.
pub const RESUME: &str = include_str!("queries/resume.sql");
/// Every pause in force.
pub const PAUSES: &str = include_str!("queries/pauses.sql");
/// Maps a login role to a tenant (`outpost tenant grant`).
pub const TENANT_GRANT: &str = include_str!("queries/tenant_grant.sql");
/// Takes a role's tenant away (`outpost tenant revoke`).
pub const TENANT_REVOKE: &str = include_str!("queries/tenant_revoke.sql");
/// Every role with a tenant (`outpost tenant list`).
pub const TENANT_LIST: &str = include_str!("queries/tenant_list.sql");
/// The SMTP server `smtp_db` uses now.
pub const SMTP_SERVER: &str = include_str!("queries/smtp_server.sql");
/// Stores a received e-mail once.
pub const INBOUND_INSERT: &str = include_str!("queries/inbound_insert.sql");
pub const INBOUND_CLAIMED: &str = include_str!("queries/inbound_claimed.sql");
/// Stores one of its attachments.
pub const INBOUND_ATTACHMENT: &str = include_str!("queries/inbound_attachment.sql");
/// Records a provider event once.
pub const EVENT_INSERT: &str = include_str!("queries/event_insert.sql");
/// Finds the message an event is about.
pub const EVENT_MATCH: &str = include_str!("queries/event_match.sql");
pub const EVENT_ROUTE: &str = include_str!("queries/event_route.sql");
/// Marks a message delivered.
pub const EVENT_DELIVERED: &str = include_str!("queries/event_delivered.sql");
/// Marks a message bounced.
pub const EVENT_BOUNCED: &str = include_str!("queries/event_bounced.sql");
/// Adds an address to the suppression list.
pub const SUPPRESS: &str = include_str!("queries/suppress.sql");
/// An enabled push app by name.
pub const PUSH_APP: &str = include_str!("queries/push_app.sql");
/// A webhook endpoint's URL, secret and whether it is enabled.
pub const WEBHOOK_ENDPOINT: &str = include_str!("queries/webhook_endpoint.sql");
/// Disables a webhook endpoint whose receiver answered 410 Gone.
pub const WEBHOOK_GONE: &str = include_str!("queries/webhook_gone.sql");
/// Appends a system message for a `chat` outbox row.
pub const SEND_SYSTEM_MESSAGE: &str = include_str!("queries/send_system_message.sql");
/// Mirrors a sent e-mail into chat.
pub const MIRROR_TO_CHAT: &str = include_str!("queries/mirror_to_chat.sql");
/// A user's messages since a time, for `outpost status --user`.
pub const STATUS_USER: &str = include_str!("queries/status_user.sql");
/// Attempt statistics since a time, for `outpost stats`.
pub const STATS: &str = include_str!("queries/stats.sql");
/// Message counts since a time, for `outpost stats`.
pub const STATS_STATUS: &str = include_str!("queries/stats_status.sql");
/// Takes one tick of a housekeeping job for this daemon.
pub const CRON_CLAIM: &str = include_str!("queries/cron_claim.sql");
/// Deletes a batch of old finished messages.
pub const PURGE_MESSAGES: &str = include_str!("queries/purge_messages.sql");
/// Deletes a batch of old provider events.
pub const PURGE_EVENTS: &str = include_str!("queries/purge_events.sql");
/// Deletes a batch of old inbound e-mails.
pub const PURGE_INBOUND: &str = include_str!("queries/purge_inbound.sql");
/// The enabled schedules.
pub const SCHEDULES_ENABLED: &str = include_str!("queries/schedules_enabled.sql");
/// Fires one schedule once.
pub const SCHEDULE_FIRE: &str = include_str!("queries/schedule_fire.sql");
/// Records a schedule's error.
pub const SCHEDULE_ERROR: &str = include_str!("queries/schedule_error.sql");
/// Takes a housekeeping job's advisory lock, if free.
pub const CRON_LOCK: &str = include_str!("queries/cron_lock.sql");
/// The same lock for a transaction, behind a transaction pooler.
pub const CRON_LOCK_XACT: &str = include_str!("queries/cron_lock_xact.sql");
/// Releases it.
pub const CRON_UNLOCK: &str = include_str!("queries/cron_unlock.sql");
/// Announces a stored inbound e-mail.
pub const INBOUND_NOTIFY: &str = include_str!("queries/inbound_notify.sql");
/// Serialises migrations.
pub const MIGRATION_LOCK: &str = include_str!("queries/migration_lock.sql");
/// Records an applied migration.
pub const MIGRATION_RECORD: &str = include_str!("queries/migration_record.sql");
/// Whether the migrations table exists.
pub const MIGRATIONS_TABLE_EXISTS: &str = include_str!("queries/migrations_table_exists.sql");
/// The applied migrations.
pub const MIGRATIONS_APPLIED: &str = include_str!("queries/migrations_applied.sql");
/// One-click unsubscribe of a user from a category.
pub const UNSUBSCRIBE_USER: &str = include_str!("queries/unsubscribe_user.sql");
/// One-click unsubscribe of an address without a user.
pub const UNSUBSCRIBE_ADDRESS: &str = include_str!("queries/unsubscribe_address.sql");
