-- What user $1 missed in their channels within their tenant since snapshot
-- $2 (the messages whose writer it does not see, in whatever order their
-- ids were taken): the newest $3, in id order. Every row carries this
-- statement's own snapshot (with none missed, one row holds only that).
-- "Not seen by $2" is "from its xmax on, or one it had in progress" (the
-- index on channel and writer answers it).
SELECT pg_current_snapshot()::text AS snapshot, missed.*
FROM (SELECT 1) AS one
LEFT JOIN LATERAL (
    SELECT newest.* FROM (
        SELECT m.id, m.channel_id, m.sender, m.body, m.format, m.created_at
        FROM outpost.chat_members mem
        JOIN outpost.chat_channels c ON c.id = mem.channel_id
        JOIN outpost.chat_messages m ON m.channel_id = c.id
             AND (m.written_by >= pg_snapshot_xmax($2::text::pg_snapshot)
                  OR m.written_by = ANY (ARRAY(SELECT pg_snapshot_xip($2::text::pg_snapshot))))
        WHERE mem.user_id = $1::text
          AND c.tenant IS NOT DISTINCT FROM (SELECT r.tenant FROM outpost.recipients r WHERE r.user_id = $1::text)
        ORDER BY m.id DESC
        LIMIT $3::int) newest
    ORDER BY newest.id) missed ON true
