-- Per-tenant rates ([limits.rate.<tenant>] kind = messages a second): a
-- token bucket per tenant and kind, shared by every daemon. The claim asks
-- each rated tenant's bucket how many whole messages it may take (the
-- bucket's row stays locked until the claim commits, so daemons claiming at
-- once share it), and spends what it took in the same transaction. A
-- bucket holds at most one second's messages (at least one), so a tenant
-- back from idle sends a second's worth at once and then keeps to its rate.
-- The rates themselves are the configuration's, passed with each claim;
-- only the daemon reads or writes this table.
CREATE TABLE outpost.tenant_rates (
    tenant text NOT NULL,
    kind   text NOT NULL,
    tokens float8 NOT NULL,
    at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant, kind)
);
REVOKE ALL ON outpost.tenant_rates FROM PUBLIC;
GRANT SELECT, INSERT, UPDATE, DELETE ON outpost.tenant_rates TO outpost_daemon;

-- How many whole messages `tenant`'s `kind` may send now at `rate` a second
-- (never below 0; a bucket in debt, from daemons that took at once, waits
-- until it refills). Locks the bucket until the caller's transaction ends.
CREATE FUNCTION outpost.tenant_rate_allowance(tenant text, kind text, rate float8) RETURNS int
LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS $$
#variable_conflict use_column
DECLARE
    burst float8 := greatest(tenant_rate_allowance.rate, 1);
    held float8;
BEGIN
    INSERT INTO outpost.tenant_rates (tenant, kind, tokens, at)
    VALUES (tenant_rate_allowance.tenant, tenant_rate_allowance.kind, burst, now())
    ON CONFLICT (tenant, kind) DO NOTHING;
    SELECT least(burst, b.tokens + tenant_rate_allowance.rate
                        * greatest(extract(epoch FROM now() - b.at), 0))
    INTO held
    FROM outpost.tenant_rates b
    WHERE b.tenant = tenant_rate_allowance.tenant AND b.kind = tenant_rate_allowance.kind
    FOR UPDATE;
    RETURN greatest(floor(held), 0)::int;
END;
$$;
REVOKE EXECUTE ON FUNCTION outpost.tenant_rate_allowance(text, text, float8) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION outpost.tenant_rate_allowance(text, text, float8) TO outpost_daemon;
