-- tenant_day_slot: take one of today's $3 slots of tenant $1's kind $2;
-- NULL: go, else when tomorrow begins (UTC).
SELECT outpost.tenant_day_slot($1, $2, $3)
