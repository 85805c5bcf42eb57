-- console_webhook_list: every webhook endpoint, its secret only as a prefix
-- (whsec_ab…), with its deliveries by status.
SELECT e.id, e.url, e.tenant, e.event_types, e.enabled, e.disabled_reason, e.description,
       left(e.secret, 8) || '…' AS secret_hint, e.created_by, e.created_at,
       (SELECT count(*) FROM outpost.message_keys k JOIN outpost.messages m ON m.id = k.message_id
        WHERE k.to_address = e.id::text AND m.kind = 'webhook' AND m.status IN ('queued', 'sending')) AS pending,
       (SELECT count(*) FROM outpost.message_keys k JOIN outpost.messages m ON m.id = k.message_id
        WHERE k.to_address = e.id::text AND m.kind = 'webhook'
          AND m.status IN ('failed', 'expired')) AS failed
FROM outpost.webhook_endpoints e
ORDER BY e.id
