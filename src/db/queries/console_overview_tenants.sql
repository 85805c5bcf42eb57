-- console_overview_tenants: the queue by tenant ('' for none) and kind, and
-- how much of it is due, and how long its longest-waiting due message has
-- waited (seconds): read from the claim index (0021: kind, tenant; queued
-- rows only), so the cost follows the queue, not the table. Tenant $1 only
-- when it is not NULL.
SELECT coalesce(m.tenant, '') AS tenant, m.kind, count(*) AS queued,
       count(*) FILTER (WHERE m.run_at <= now()) AS due,
       extract(epoch FROM now() - min(m.run_at) FILTER (WHERE m.run_at <= now()))::float8 AS waited
FROM outpost.messages m
WHERE m.status = 'queued' AND ($1::text IS NULL OR coalesce(m.tenant, '') = $1)
GROUP BY 1, 2
ORDER BY 1, 2
