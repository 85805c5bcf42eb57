-- A page of channel $2's messages for member $1, newest first, before id $3
-- (NULL: from the newest), $4 of them.
SELECT m.id, m.channel_id, m.sender, m.body, m.format, m.created_at
FROM outpost.chat_messages m
WHERE m.channel_id = $2::bigint
  AND ($3::bigint IS NULL OR m.id < $3::bigint)
  AND EXISTS (SELECT 1 FROM outpost.chat_members mem
              WHERE mem.channel_id = m.channel_id AND mem.user_id = $1::text)
ORDER BY m.id DESC
LIMIT $4::int
