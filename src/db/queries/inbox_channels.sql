-- A user's channels ($1) within their tenant, with the newest message and
-- the count of others' messages after their read mark, newest activity first.
SELECT c.id AS channel_id, c.kind, c.subject, mem.last_read_message_id,
       last.id AS last_message_id, last.created_at AS last_message_at,
       (SELECT count(*) FROM outpost.chat_messages m
        WHERE m.channel_id = c.id AND m.id > mem.last_read_message_id
          AND m.sender IS DISTINCT FROM $1::text) AS unread
FROM outpost.chat_members mem
JOIN outpost.chat_channels c ON c.id = mem.channel_id
LEFT JOIN LATERAL (
    SELECT m.id, m.created_at FROM outpost.chat_messages m
    WHERE m.channel_id = c.id ORDER BY m.id DESC LIMIT 1) last ON true
WHERE mem.user_id = $1::text
  AND c.tenant IS NOT DISTINCT FROM (SELECT r.tenant FROM outpost.recipients r WHERE r.user_id = $1::text)
ORDER BY last.id DESC NULLS LAST, c.id
LIMIT 1000
