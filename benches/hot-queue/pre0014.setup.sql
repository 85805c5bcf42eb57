-- The shipped schema without the console's indexes of 0014 (status, id),
-- (to_address, id), (tenant, id): the index set BENCHMARKS.md's earlier
-- figures were measured with (measurement only).
DROP INDEX IF EXISTS outpost.messages_status_id_idx, outpost.messages_to_address_id_idx,
    outpost.messages_tenant_id_idx;
