-- The chat messages committed since snapshot $1 (those whose writer it does
-- not see), for the members among users $2 (those with an open stream)
-- whose tenant is the channel's, with each member's unread count; at most
-- $3 rows. Every row carries this statement's own snapshot, the next $1;
-- with no message, one row holds only the snapshot.
SELECT pg_current_snapshot()::text AS snapshot, d.*
FROM (SELECT 1) AS one
LEFT JOIN LATERAL (
    SELECT m.id, m.channel_id, m.sender, m.body, m.format, m.created_at, mem.user_id,
           (SELECT count(*) FROM outpost.chat_messages x
            WHERE x.channel_id = m.channel_id AND x.id > mem.last_read_message_id
              AND x.sender IS DISTINCT FROM mem.user_id) AS unread
    FROM outpost.chat_messages m
    JOIN outpost.chat_channels c ON c.id = m.channel_id
    JOIN outpost.chat_members mem ON mem.channel_id = m.channel_id AND mem.user_id = ANY($2::text[])
    WHERE m.written_by IS NOT NULL
      AND m.written_by >= pg_snapshot_xmin($1::text::pg_snapshot)
      AND NOT pg_visible_in_snapshot(m.written_by, $1::text::pg_snapshot)
      AND c.tenant IS NOT DISTINCT FROM (SELECT r.tenant FROM outpost.recipients r WHERE r.user_id = mem.user_id)
    ORDER BY m.id, mem.user_id
    LIMIT $3::int) d ON true
