-- tenant_days: what each tenant has sent of each kind today (UTC), for the
-- daily caps `outpost status` reports.
SELECT tenant, kind, sent FROM outpost.tenant_days
WHERE day = (now() AT TIME ZONE 'UTC')::date
ORDER BY tenant, kind
