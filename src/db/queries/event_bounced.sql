-- event_bounced: the provider reported a bounce, a drop or a failed delivery.
UPDATE outpost.messages
SET status = 'bounced', last_error = $2, finished_at = coalesce(finished_at, now()), updated_at = now()
WHERE id = $1 AND status IN ('sent', 'delivered', 'bounced')
