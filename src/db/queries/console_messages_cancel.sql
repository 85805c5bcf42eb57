-- console_messages_cancel: outpost.cancel every matching queued message; the
-- ids it took effect on. {filter} is console_message_filter.sql.
SELECT outpost.cancel(m.id) AS id
FROM outpost.messages m
JOIN outpost.message_keys k ON k.message_id = m.id
WHERE {filter}
  AND m.status = 'queued'
