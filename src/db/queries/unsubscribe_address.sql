-- unsubscribe_address: one-click unsubscribe of address $1 (no user) from
-- category $2 of kind $3: the address goes on the suppression list of the
-- kind's family, and the change into the audit trail.
WITH added AS (
    INSERT INTO outpost.suppressions (family, address, reason, source)
    VALUES (outpost.address_family($3), outpost.normalize_address($1),
            'one-click unsubscribe (category ' || $2 || ')', 'unsubscribe')
    ON CONFLICT (family, address) DO NOTHING
    RETURNING family, address, reason
)
INSERT INTO outpost.console_audit (actor, action, object, after)
SELECT 'unsubscribe', 'suppression.add', format('suppression %s/%s', family, address),
       jsonb_build_object('reason', reason, 'source', 'unsubscribe')
FROM added
