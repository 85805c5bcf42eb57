-- console_audit_page: audit entries older than id $1 (all when NULL), of actor
-- $2 (all when NULL), newest first, at most $3.
SELECT id, at, actor, address, action, object, before, after
FROM outpost.console_audit
WHERE ($1::bigint IS NULL OR id < $1) AND ($2::text IS NULL OR actor = $2)
ORDER BY id DESC
LIMIT $3
