-- console_webhook_deliveries: the newest deliveries to webhook endpoint $1 (before message id $2,
-- all when NULL), at most $3, with their last attempt.
SELECT m.id, m.subject AS event_type, m.options ->> 'webhook_id' AS webhook_id,
       (m.options ->> 'replay_of')::bigint AS replay_of, m.status, m.attempts, m.last_error,
       k.created_at, m.finished_at, a.provider_code AS last_code
FROM outpost.message_keys k
JOIN outpost.messages m ON m.id = k.message_id AND m.kind = 'webhook'
LEFT JOIN LATERAL (
    SELECT a.provider_code FROM outpost.attempts a WHERE a.message_id = m.id
    ORDER BY a.attempt DESC LIMIT 1) a ON true
WHERE k.to_address = $1::bigint::text AND ($2::bigint IS NULL OR k.message_id < $2)
ORDER BY k.message_id DESC
LIMIT $3
