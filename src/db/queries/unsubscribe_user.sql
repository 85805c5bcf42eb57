-- unsubscribe_user: one-click unsubscribe of user $1 from category $2 for
-- kind $3 (a preference, recorded in the audit trail with source unsubscribe).
-- A repeat, or a category the user already turned off for that kind, writes
-- nothing: no new row version, no audit entry.
SELECT outpost.set_preference($1, $2, $3, false, 'unsubscribe')
WHERE NOT EXISTS (
    SELECT 1 FROM outpost.preferences p
    WHERE p.user_id = $1 AND p.category = $2 AND p.kind = $3 AND NOT p.enabled
)
