-- console_webhook_enable: enable ($2 true) or disable webhook endpoint $1 (reason $3); disabling
-- cancels its queued deliveries. Returns the id, or nothing when there is no such endpoint.
WITH changed AS (
    UPDATE outpost.webhook_endpoints e
    SET enabled = $2, disabled_reason = CASE WHEN $2 THEN NULL ELSE $3 END, updated_at = now()
    WHERE e.id = $1
    RETURNING e.id
), cancelled AS (
    SELECT outpost.webhook_cancel_queued(c.id, 'cancelled: the webhook endpoint was disabled')
    FROM changed c WHERE NOT $2
)
SELECT c.id, (SELECT count(*) FROM cancelled) AS cancelled FROM changed c
