-- unsubscribe_user: one-click unsubscribe of user $1 from category $2 for
-- kind $3 (a preference, recorded in the audit trail with source unsubscribe).
SELECT outpost.set_preference($1, $2, $3, false, 'unsubscribe')
