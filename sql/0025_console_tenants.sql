-- Console users may be scoped to a tenant: they then see and act on only
-- that tenant's messages, and none of the pages that configure every tenant.
ALTER TABLE outpost.console_users ADD COLUMN tenant text
    CHECK (tenant IS NULL OR (btrim(tenant) <> '' AND octet_length(tenant) <= 1024));
