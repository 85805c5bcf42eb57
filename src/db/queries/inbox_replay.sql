-- What user $1 missed after message $2 in their channels within their
-- tenant: the newest $3, in id order.
SELECT newest.* FROM (
    SELECT m.id, m.channel_id, m.sender, m.body, m.format, m.created_at
    FROM outpost.chat_members mem
    JOIN outpost.chat_channels c ON c.id = mem.channel_id
    JOIN outpost.chat_messages m ON m.channel_id = c.id AND m.id > $2::bigint
    WHERE mem.user_id = $1::text
      AND c.tenant IS NOT DISTINCT FROM (SELECT r.tenant FROM outpost.recipients r WHERE r.user_id = $1::text)
    ORDER BY m.id DESC
    LIMIT $3::int) newest
ORDER BY newest.id
