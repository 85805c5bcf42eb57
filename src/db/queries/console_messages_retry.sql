-- console_messages_retry: outpost.retry every matching finished message; the
-- ids it took effect on. {filter} is console_message_filter.sql.
SELECT outpost.retry(m.id) AS id
FROM outpost.messages m
JOIN outpost.message_keys k ON k.message_id = m.id
WHERE {filter}
  AND m.status IN ('failed', 'expired', 'cancelled', 'bounced', 'suppressed')
