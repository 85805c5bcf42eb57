-- The read marks and unread counts of the (channel $1[i], user $2[i]) pairs
-- whose mark moved, for members whose tenant is the channel's.
SELECT mem.channel_id, mem.user_id, mem.last_read_message_id,
       (SELECT count(*) FROM outpost.chat_messages x
        WHERE x.channel_id = mem.channel_id AND x.id > mem.last_read_message_id
          AND x.sender IS DISTINCT FROM mem.user_id) AS unread
FROM unnest($1::bigint[], $2::text[]) AS p(channel_id, user_id)
JOIN outpost.chat_members mem ON mem.channel_id = p.channel_id AND mem.user_id = p.user_id
JOIN outpost.chat_channels c ON c.id = mem.channel_id
WHERE c.tenant IS NOT DISTINCT FROM (SELECT r.tenant FROM outpost.recipients r WHERE r.user_id = mem.user_id)
