//! Every SQL helper the application role may execute, called through
//! PgBouncer in transaction mode as psql calls it.

use crate::common;

use std::collections::BTreeSet;

use common::TestDb;
use common::pgbouncer;

use super::{connect, first};

/// Every function of the outpost schema the application role may execute,
/// with a call that must answer through the pooler; `$MSG`, `$CHAT` and
/// `$CHANNEL` stand for ids made by earlier calls. A function added to the
/// schema without a line here fails the test.
const CALLS: &[(&str, &str)] = &[
    (
        "send_simple_mail",
        "SELECT outpost.send_simple_mail('Hi', 'Body', '[]', to_address => 'a@example.com')",
    ),
    (
        "send_mail_template",
        "SELECT outpost.send_mail_template('welcome', to_address => 'a@example.com', context => '{}')",
    ),
    (
        "enqueue",
        "SELECT outpost.enqueue('email', to_address => 'b@example.com', subject => 'S', body => 'B')",
    ),
    (
        "send_sms",
        "SELECT outpost.send_sms('Text', to_address => '+15005550006')",
    ),
    (
        "make_call",
        "SELECT outpost.make_call('Text', to_address => '+15005550006')",
    ),
    (
        "send_user_push_message",
        "SELECT outpost.send_user_push_message('42', 'Push')",
    ),
    (
        "send_phone_sms",
        "SELECT outpost.send_phone_sms('42', 'Text')",
    ),
    (
        "send_phone_sms_predefined",
        "SELECT outpost.send_phone_sms_predefined('42', 'note', 'welcome')",
    ),
    (
        "send_sms_to_number",
        "SELECT outpost.send_sms_to_number('+15005550006', 'en', 'Text')",
    ),
    (
        "make_phone_call",
        "SELECT outpost.make_phone_call('42', 'welcome')",
    ),
    (
        "send_system_message_template",
        "SELECT outpost.send_system_message_template('42', 'welcome', '{}')",
    ),
    (
        "send_system_message",
        "SELECT outpost.send_system_message('42', 'Hello')",
    ),
    (
        "mirror_to_chat",
        "SELECT outpost.mirror_to_chat('42', 'Subject', 'Body', $MSG)",
    ),
    ("cancel", "SELECT outpost.cancel($MSG)"),
    ("retry", "SELECT outpost.retry($MSG, 1)"),
    (
        "set_preference",
        "SELECT (outpost.set_preference('42', 'news', 'email', false)).enabled",
    ),
    (
        "preferences_for",
        "SELECT count(*) FROM outpost.preferences_for('42')",
    ),
    (
        "preference_block",
        "SELECT coalesce(outpost.preference_block('42', 'news', 'email'), '')",
    ),
    (
        "chat_channels_for",
        "SELECT count(*) FROM outpost.chat_channels_for('42')",
    ),
    (
        "chat_mark_read",
        "SELECT outpost.chat_mark_read($CHANNEL, '42')",
    ),
    (
        "chat_messages_page",
        "SELECT count(*) FROM outpost.chat_messages_page($CHANNEL, NULL, 10)",
    ),
    (
        "chat_alert",
        "SELECT outpost.chat_alert('Alert', 'plaintext')",
    ),
    (
        "caller_tenant",
        "SELECT coalesce(outpost.caller_tenant(), '')",
    ),
    ("is_daemon", "SELECT outpost.is_daemon()"),
    ("reserve_message_id", "SELECT outpost.reserve_message_id()"),
    ("address_family", "SELECT outpost.address_family('email')"),
    (
        "address_list",
        "SELECT outpost.address_list('[\"a@example.com\"]')",
    ),
    (
        "normalize_address",
        "SELECT outpost.normalize_address('A@Example.com')",
    ),
    (
        "with_sender",
        "SELECT outpost.with_sender('{}', '+15005550006')",
    ),
    ("json_bytes", "SELECT outpost.json_bytes('{}')"),
    (
        "digest_window",
        "SELECT coalesce(outpost.digest_window('{}')::text, '')",
    ),
    (
        "digest_window_or_null",
        "SELECT coalesce(outpost.digest_window_or_null('{}')::text, '')",
    ),
    (
        "digest_window_valid",
        "SELECT outpost.digest_window_valid('{}')",
    ),
    ("time_in_range", "SELECT outpost.time_in_range(now())"),
    (
        "message_sendable",
        "SELECT outpost.message_sendable(m) FROM outpost.messages m WHERE id = $MSG",
    ),
    (
        "escalation_kinds",
        "SELECT array_length(outpost.escalation_kinds(), 1)",
    ),
    (
        "escalation_after",
        "SELECT outpost.escalation_after('{\"after\": \"10m\", \"unless\": \"read\", \"then\": {\"kind\": \"sms\", \"body\": \"B\"}}')",
    ),
    (
        "escalation_met",
        "SELECT outpost.escalation_met('read', 'read')",
    ),
    ("base64url", "SELECT outpost.base64url('\\x00ff')"),
    ("inbox_token", "SELECT outpost.inbox_token('42')"),
    (
        "webhook_event_types",
        "SELECT array_length(outpost.webhook_event_types(), 1)",
    ),
    (
        "webhook_endpoint_add",
        "SELECT id FROM outpost.webhook_endpoint_add('https://hooks.example/x', ARRAY['chat.message'])",
    ),
    // A chat message for the endpoint: its delivery is replayed below.
    (
        "send_system_message",
        "SELECT outpost.send_system_message('42', 'For the hook')",
    ),
    (
        "webhook_replay",
        "SELECT outpost.webhook_replay((SELECT max(id) FROM outpost.messages WHERE kind = 'webhook'))",
    ),
    (
        "webhook_endpoint_disable",
        "SELECT outpost.webhook_endpoint_disable((SELECT max(id) FROM outpost.webhook_endpoints))",
    ),
    (
        "webhook_endpoint_enable",
        "SELECT outpost.webhook_endpoint_enable((SELECT max(id) FROM outpost.webhook_endpoints))",
    ),
    (
        "webhook_endpoint_remove",
        "SELECT outpost.webhook_endpoint_remove((SELECT max(id) FROM outpost.webhook_endpoints))",
    ),
];

/// The helpers that return a new row's id: each must answer one.
const RETURNS_AN_ID: &[&str] = &[
    "send_simple_mail",
    "send_mail_template",
    "enqueue",
    "send_sms",
    "make_call",
    "send_user_push_message",
    "send_phone_sms",
    "send_phone_sms_predefined",
    "send_sms_to_number",
    "make_phone_call",
    "send_system_message_template",
    "send_system_message",
    "mirror_to_chat",
    "cancel",
    "retry",
    "reserve_message_id",
    "webhook_endpoint_add",
    "webhook_replay",
];

#[tokio::test]
async fn every_sql_helper_answers_through_pgbouncer_in_transaction_mode() {
    let db = TestDb::new().await;
    let direct = db.client().await;
    direct
        .batch_execute(
            "INSERT INTO outpost.recipients (user_id, email, phone, push_named_user, tenant)
             VALUES ('42', 'u42@example.com', '+15005550006', 'u42', 'h1');
             INSERT INTO outpost.messaging_configs (tenant, enabled) VALUES ('h1', true);",
        )
        .await
        .unwrap();
    let catalog: BTreeSet<String> = direct
        .query(
            "SELECT DISTINCT p.proname::text FROM pg_proc p
             JOIN pg_namespace n ON n.oid = p.pronamespace
             WHERE n.nspname = 'outpost' AND p.prorettype <> 'trigger'::regtype
               AND has_function_privilege('outpost_app', p.oid, 'EXECUTE')",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| r.try_get(0).unwrap())
        .collect();
    let covered: BTreeSet<String> = CALLS.iter().map(|(n, _)| (*n).to_owned()).collect();
    let missing: Vec<_> = catalog.difference(&covered).collect();
    assert!(
        missing.is_empty(),
        "helpers not called through PgBouncer here: {missing:?}"
    );

    // Two server connections for three clients: consecutive calls of one
    // client land on whichever server connection is free.
    let bouncer = pgbouncer::start(&db, 2).await;
    let clients = [
        connect(&bouncer.url).await,
        connect(&bouncer.url).await,
        connect(&bouncer.url).await,
    ];
    let (mut message, mut chat) = (String::new(), String::new());
    for (i, (name, sql)) in CALLS.iter().enumerate() {
        let channel = if chat.is_empty() {
            String::new()
        } else {
            format!("(SELECT channel_id FROM outpost.chat_messages WHERE id = {chat})")
        };
        let sql = sql.replace("$MSG", &message).replace("$CHANNEL", &channel);
        let answer = first(&clients[i % clients.len()], &sql).await;
        if RETURNS_AN_ID.contains(name) {
            let id = answer.unwrap_or_else(|| panic!("{name} answered NULL through PgBouncer"));
            id.parse::<i64>().unwrap();
            match *name {
                "send_simple_mail" => message = id,
                "send_system_message" => chat = id,
                _ => {}
            }
        }
    }
    // What was written through the pooler is there, committed.
    let written = common::count(
        &direct,
        "SELECT count(*) FROM outpost.messages WHERE status IN ('queued', 'cancelled')",
    )
    .await;
    assert!(written >= 11, "{written} messages");
    assert!(!bouncer.log().contains("ERROR"), "{}", bouncer.log());
}
