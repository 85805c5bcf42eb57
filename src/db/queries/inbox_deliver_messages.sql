-- The chat messages committed since snapshot $1 (those whose writer it does
-- not see), for the members among users $2 (those with an open stream)
-- whose tenant is the channel's, with each member's unread count; at most
-- $3 rows. Every row carries this statement's own snapshot, the next $1;
-- with no message, one row holds only the snapshot. "Not seen by $1" is
-- written as "from its xmax on, or one it had in progress", which the
-- written_by index answers however far back a long transaction holds xmin;
-- those few messages are found first (MATERIALIZED), then their members.
SELECT pg_current_snapshot()::text AS snapshot, d.*
FROM (SELECT 1) AS one
LEFT JOIN LATERAL (
    WITH fresh AS MATERIALIZED (
        SELECT m.id, m.channel_id, m.sender, m.body, m.format, m.created_at,
               (SELECT c.tenant FROM outpost.chat_channels c WHERE c.id = m.channel_id) AS tenant
        FROM outpost.chat_messages m
        WHERE m.written_by >= pg_snapshot_xmax($1::text::pg_snapshot)
           OR m.written_by = ANY (ARRAY(SELECT pg_snapshot_xip($1::text::pg_snapshot))))
    SELECT m.id, m.channel_id, m.sender, m.body, m.format, m.created_at, mem.user_id,
           (SELECT count(*) FROM outpost.chat_messages x
            WHERE x.channel_id = m.channel_id AND x.id > mem.last_read_message_id
              AND x.sender IS DISTINCT FROM mem.user_id) AS unread
    FROM fresh m
    -- Each fresh message's members by index (OFFSET 0 keeps it a lookup
    -- per message rather than a pass over every membership).
    CROSS JOIN LATERAL (
        SELECT mem.user_id, mem.last_read_message_id FROM outpost.chat_members mem
        WHERE mem.channel_id = m.channel_id AND mem.user_id = ANY($2::text[])
        OFFSET 0) mem
    WHERE m.tenant IS NOT DISTINCT FROM (SELECT r.tenant FROM outpost.recipients r WHERE r.user_id = mem.user_id)
    ORDER BY m.id, mem.user_id
    LIMIT $3::int) d ON true
