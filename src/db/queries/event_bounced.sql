-- event_bounced: the provider reported a bounce, a drop or a failed delivery
-- of message $1 ($2 says why). A message still being sent keeps the event
-- until its outcome is recorded; one waiting for a retry ends bounced.
UPDATE outpost.messages
SET status = CASE WHEN status = 'sending' THEN status ELSE 'bounced' END,
    pending_status = CASE WHEN status = 'sending' THEN 'bounced' ELSE pending_status END,
    pending_error = CASE WHEN status = 'sending' THEN $2 ELSE pending_error END,
    last_error = CASE WHEN status = 'sending' THEN last_error ELSE $2 END,
    finished_at = CASE WHEN status = 'sending' THEN finished_at ELSE coalesce(finished_at, now()) END,
    updated_at = now()
WHERE id = $1 AND status IN ('sending', 'queued', 'failed', 'sent', 'delivered', 'bounced')
