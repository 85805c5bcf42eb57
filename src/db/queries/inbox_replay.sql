-- What user $1 missed in their channels within their tenant when their
-- Last-Event-ID is a bare message id (as streams sent before migration
-- 0030, or 0 for everything): the newest $3 after id $2, in id order. Every
-- row carries this statement's own snapshot (with none missed, one row holds
-- only that).
SELECT pg_current_snapshot()::text AS snapshot, missed.*
FROM (SELECT 1) AS one
LEFT JOIN LATERAL (
    SELECT newest.* FROM (
        SELECT m.id, m.channel_id, m.sender, m.body, m.format, m.created_at
        FROM outpost.chat_members mem
        JOIN outpost.chat_channels c ON c.id = mem.channel_id
        JOIN outpost.chat_messages m ON m.channel_id = c.id AND m.id > $2::bigint
        WHERE mem.user_id = $1::text
          AND c.tenant IS NOT DISTINCT FROM (SELECT r.tenant FROM outpost.recipients r WHERE r.user_id = $1::text)
        ORDER BY m.id DESC
        LIMIT $3::int) newest
    ORDER BY newest.id) missed ON true
