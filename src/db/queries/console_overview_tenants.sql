-- console_overview_tenants: the queue by tenant ('' for none) and kind, and
-- how much of it is due: read from the claim index (0021: kind, tenant;
-- queued rows only), so the cost follows the queue, not the table.
SELECT coalesce(m.tenant, '') AS tenant, m.kind, count(*) AS queued,
       count(*) FILTER (WHERE m.run_at <= now()) AS due
FROM outpost.messages m
WHERE m.status = 'queued'
GROUP BY 1, 2
ORDER BY 1, 2
