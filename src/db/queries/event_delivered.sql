-- event_delivered: the provider confirmed delivery.
UPDATE outpost.messages
SET status = 'delivered', finished_at = coalesce(finished_at, now()), updated_at = now()
WHERE id = $1 AND status IN ('sent', 'delivered')
