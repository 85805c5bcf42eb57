-- console_overview_counts: messages by kind and status: every queued and
-- sending one (partial indexes), and the others created in the last 24 hours
-- (message_keys_created_idx), so the page costs the same at any table size.
-- Of tenant $1 only ('' for none) when it is not NULL (a console user scoped
-- to a tenant).
SELECT kind, status, count(*) AS n, false AS recent_only
FROM outpost.messages
WHERE status = 'queued' AND ($1::text IS NULL OR coalesce(tenant, '') = $1)
GROUP BY kind, status
UNION ALL
SELECT kind, status, count(*), false
FROM outpost.messages
WHERE status = 'sending' AND ($1::text IS NULL OR coalesce(tenant, '') = $1)
GROUP BY kind, status
UNION ALL
SELECT m.kind, m.status, count(*), true
FROM outpost.message_keys k
JOIN outpost.messages m ON m.id = k.message_id
WHERE k.created_at > now() - interval '24 hours' AND m.status NOT IN ('queued', 'sending')
  AND ($1::text IS NULL OR coalesce(m.tenant, '') = $1)
GROUP BY m.kind, m.status
