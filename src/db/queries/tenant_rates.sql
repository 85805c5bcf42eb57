-- tenant_rates: each rated tenant's bucket as it stands now (before refill
-- is capped), for `outpost status` and the console: the whole messages it
-- may send now at $3 a second, for tenants $1 and kinds $2.
SELECT s.tenant, s.kind, s.rate,
       coalesce(floor(greatest(least(greatest(s.rate, 1),
           b.tokens + s.rate * greatest(extract(epoch FROM now() - b.at), 0)), 0))::int,
           floor(greatest(s.rate, 1))::int) AS allowance,
       (SELECT count(*) FROM outpost.messages m
        WHERE m.status = 'queued' AND m.kind = s.kind AND coalesce(m.tenant, '') = s.tenant
          AND m.run_at <= now()) AS due
FROM unnest($1::text[], $2::text[], $3::float8[]) AS s(tenant, kind, rate)
LEFT JOIN outpost.tenant_rates b ON b.tenant = s.tenant AND b.kind = s.kind
ORDER BY s.tenant, s.kind
