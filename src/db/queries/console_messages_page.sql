-- console_messages_page: one page of the search, newest first, after id $11
-- (keyset: no OFFSET), at most $12 rows. {filter} is console_message_filter.sql.
SELECT m.id, m.kind, m.status, m.to_user, m.to_address, m.tenant, m.subject, m.template,
       m.attempts, m.last_error, m.created_at, m.provider, m.deferrals
FROM outpost.messages m
JOIN outpost.message_keys k ON k.message_id = m.id
WHERE {filter}
  AND ($11::bigint IS NULL OR m.id < $11)
  AND ($11::bigint IS NULL OR k.message_id < $11)
ORDER BY m.id DESC
LIMIT $12
