-- A fair claim: within a kind and a priority, tenants are served in turns,
-- so one tenant's backlog does not hold another's messages back. The claim
-- index leads with the tenant so that each tenant's first due messages are
-- one index range, and the tenants with queued messages of a kind are found
-- by skipping through it (one probe per tenant, not a scan).
DROP INDEX outpost.messages_claim_kind_idx;
CREATE INDEX messages_claim_kind_idx ON outpost.messages
    (kind, (coalesce(tenant, '')), priority DESC, run_at, id) WHERE status = 'queued';

-- The tenants ('' for none) with queued messages of `kind`, in order.
CREATE FUNCTION outpost.queued_tenants(kind text) RETURNS SETOF text
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    current text;
BEGIN
    SELECT coalesce(m.tenant, '') INTO current FROM outpost.messages m
    WHERE m.status = 'queued' AND m.kind = queued_tenants.kind
    ORDER BY coalesce(m.tenant, '') LIMIT 1;
    WHILE current IS NOT NULL LOOP
        RETURN NEXT current;
        current := (SELECT coalesce(m.tenant, '') FROM outpost.messages m
                    WHERE m.status = 'queued' AND m.kind = queued_tenants.kind
                      AND coalesce(m.tenant, '') > current
                    ORDER BY coalesce(m.tenant, '') LIMIT 1);
    END LOOP;
END;
$$;
REVOKE EXECUTE ON FUNCTION outpost.queued_tenants(text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION outpost.queued_tenants(text) TO outpost_daemon;
