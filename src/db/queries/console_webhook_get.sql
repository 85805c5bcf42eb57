-- console_webhook_get: webhook endpoint $1, its secret only as a prefix.
SELECT e.id, e.url, e.tenant, e.event_types, e.enabled, e.disabled_reason, e.description,
       left(e.secret, 8) || '…' AS secret_hint, e.created_by, e.created_at,
       0::bigint AS pending, 0::bigint AS failed
FROM outpost.webhook_endpoints e
WHERE e.id = $1
