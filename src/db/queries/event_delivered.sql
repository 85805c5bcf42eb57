-- event_delivered: the provider confirmed delivery of message $1. A message
-- still being sent keeps the event until its outcome is recorded; one waiting
-- for a retry (or failed after a timeout) was delivered after all.
UPDATE outpost.messages
SET status = CASE WHEN status = 'sending' THEN status ELSE 'delivered' END,
    pending_status = CASE WHEN status = 'sending' THEN 'delivered' ELSE pending_status END,
    finished_at = CASE WHEN status = 'sending' THEN finished_at ELSE coalesce(finished_at, now()) END,
    last_error = CASE WHEN status IN ('queued', 'failed') THEN NULL ELSE last_error END,
    updated_at = now()
WHERE id = $1 AND status IN ('sending', 'queued', 'failed', 'sent', 'delivered')
