-- tenant_rate_spend: in the claim's transaction, after the claim, spend from
-- each rated tenant's bucket (locked by the claim) the $4 messages of kind
-- $2 it took for tenant $1 at rate $3 a second (0026).
UPDATE outpost.tenant_rates b
SET tokens = least(greatest(s.rate, 1),
                   b.tokens + s.rate * greatest(extract(epoch FROM now() - b.at), 0)) - s.n,
    at = now()
FROM unnest($1::text[], $2::text[], $3::float8[], $4::int[]) AS s(tenant, kind, rate, n)
WHERE b.tenant = s.tenant AND b.kind = s.kind
