-- console_messages_cancel: outpost.cancel the first $11 matching queued
-- messages, lowest ids first. One row per candidate, at most $11 + 1: id is
-- what outpost.cancel returned (NULL when it took no effect, and always NULL
-- for the extra candidate, which only says that more remain).
-- {filter} is console_message_filter.sql.
SELECT CASE WHEN p.n <= $11::bigint THEN outpost.cancel(p.id) END AS id
FROM (
    SELECT m.id, row_number() OVER (ORDER BY m.id) AS n
    FROM outpost.messages m
    JOIN outpost.message_keys k ON k.message_id = m.id
    WHERE {filter}
      AND m.status = 'queued'
    ORDER BY m.id
    LIMIT $11::bigint + 1
) p
ORDER BY p.n
