-- Whether user $1 belongs to channel $2 within their tenant: their read mark.
SELECT mem.last_read_message_id
FROM outpost.chat_members mem
JOIN outpost.chat_channels c ON c.id = mem.channel_id
WHERE mem.user_id = $1::text AND mem.channel_id = $2::bigint
  AND c.tenant IS NOT DISTINCT FROM (SELECT r.tenant FROM outpost.recipients r WHERE r.user_id = $1::text)
