-- console_webhook_replay: a copy of webhook delivery $1 (same endpoint, body and webhook-id),
-- queued now; the new delivery's id and its endpoint.
SELECT r.id, m.to_address::bigint AS endpoint_id
FROM outpost.messages m
CROSS JOIN LATERAL (SELECT outpost.webhook_replay(m.id) AS id) r
WHERE m.id = $1 AND m.kind = 'webhook'
