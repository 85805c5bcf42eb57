-- Per-tenant daily caps ([limits.daily]): every send of a capped tenant's
-- kind takes one of the day's slots here first (UTC days), across every
-- daemon. Only the daemon reads or writes it.
CREATE TABLE outpost.tenant_days (
    tenant text NOT NULL,
    kind   text NOT NULL,
    day    date NOT NULL,
    sent   int NOT NULL,
    PRIMARY KEY (tenant, kind, day)
);
REVOKE ALL ON outpost.tenant_days FROM PUBLIC;
GRANT SELECT, INSERT, UPDATE, DELETE ON outpost.tenant_days TO outpost_daemon;

-- Takes a slot of today's `cap` for `tenant`'s `kind` (NULL: go), or returns
-- when tomorrow's begin (UTC). A new day's first slot clears days older
-- than a week.
CREATE FUNCTION outpost.tenant_day_slot(tenant text, kind text, cap int) RETURNS timestamptz
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
#variable_conflict use_column
DECLARE
    today date := (now() AT TIME ZONE 'UTC')::date;
    taken int;
BEGIN
    INSERT INTO outpost.tenant_days AS d (tenant, kind, day, sent)
    SELECT tenant_day_slot.tenant, tenant_day_slot.kind, today, 1 WHERE tenant_day_slot.cap > 0
    ON CONFLICT (tenant, kind, day) DO UPDATE SET sent = d.sent + 1
        WHERE d.sent < tenant_day_slot.cap
    RETURNING d.sent INTO taken;
    IF taken IS NULL THEN
        RETURN (today + 1)::timestamp AT TIME ZONE 'UTC';
    END IF;
    IF taken = 1 THEN
        DELETE FROM outpost.tenant_days d
        WHERE d.tenant = tenant_day_slot.tenant AND d.kind = tenant_day_slot.kind
          AND d.day < today - 7;
    END IF;
    RETURN NULL;
END;
$$;
REVOKE EXECUTE ON FUNCTION outpost.tenant_day_slot(text, text, int) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION outpost.tenant_day_slot(text, text, int) TO outpost_daemon;
