-- tenant_revoke: take role $1's tenant away (it sees every tenant again, as a
-- role with no tenant does); returns whether it had one.
WITH gone AS (DELETE FROM outpost.tenant_roles t WHERE t.role = $1::text::name RETURNING 1)
SELECT count(*) > 0 FROM gone
