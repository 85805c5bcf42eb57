-- console_audit_insert: one change made through the console.
INSERT INTO outpost.console_audit (actor, address, action, object, before, after)
VALUES ($1, $2, $3, $4, $5, $6)
