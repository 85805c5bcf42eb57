-- console_messages_count: how many messages match, and how many of them a
-- retry or a cancel would act on. {filter} is console_message_filter.sql.
SELECT count(*) AS total,
       count(*) FILTER (WHERE m.status IN ('failed', 'expired', 'cancelled', 'bounced', 'suppressed')) AS retryable,
       count(*) FILTER (WHERE m.status = 'queued') AS cancellable
FROM outpost.messages m
JOIN outpost.message_keys k ON k.message_id = m.id
WHERE {filter}
