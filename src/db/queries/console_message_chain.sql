-- console_message_chain: the escalation chain message $1 belongs to (0028):
-- its first message and every follow-up and fallback, in order, with what
-- each follow-up waits for. At most 12 links up or down, 50 rows.
WITH RECURSIVE up AS (
    SELECT m.id, m.escalated_from, 0 AS depth FROM outpost.messages m WHERE m.id = $1
    UNION ALL
    SELECT p.id, p.escalated_from, up.depth + 1
    FROM outpost.messages p JOIN up ON p.id = up.escalated_from
    WHERE up.depth < 12
), down AS (
    SELECT r.id, 0 AS depth FROM (SELECT id FROM up ORDER BY depth DESC LIMIT 1) r
    UNION ALL
    SELECT c.id, down.depth + 1
    FROM outpost.messages c JOIN down ON c.escalated_from = down.id
    WHERE down.depth < 12
)
SELECT m.id, m.kind, m.status, m.tenant, m.run_at::text AS due, m.last_error, d.depth,
       p.id AS parent,
       -- A follow-up is written in its first message's transaction; a
       -- fallback later, when the first is sent.
       CASE WHEN m.created_at = p.created_at
            THEN format('follow-up of %s: after %s unless %s', p.id,
                        p.options -> 'escalate' ->> 'after', p.options -> 'escalate' ->> 'unless')
            WHEN p.id IS NOT NULL
            THEN format('fallback of %s: its user had no address for %s', p.id, p.kind)
       END AS link
FROM down d
JOIN outpost.messages m ON m.id = d.id
LEFT JOIN outpost.messages p ON p.id = m.escalated_from
ORDER BY d.depth, m.id
LIMIT 50
