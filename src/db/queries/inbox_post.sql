-- User $1's plain-text message $3 to channel $2, when they belong to it
-- within their tenant (the fanout trigger pushes the other members).
INSERT INTO outpost.chat_messages (channel_id, sender, body)
SELECT c.id, $1::text, $3::text
FROM outpost.chat_members mem
JOIN outpost.chat_channels c ON c.id = mem.channel_id
WHERE mem.user_id = $1::text AND mem.channel_id = $2::bigint
  AND c.tenant IS NOT DISTINCT FROM (SELECT r.tenant FROM outpost.recipients r WHERE r.user_id = $1::text)
RETURNING id, channel_id, sender, body, format, created_at
