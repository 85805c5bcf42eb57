-- console_smtp_update: edit SMTP server $1. The password becomes $6 when it
-- is not NULL; else it is kept, unless the host (case aside), port, user name
-- or security changes: then it is cleared, so a stored password never follows
-- the server to a new destination (write-only). Returns whether it was
-- cleared that way.
WITH old AS (
    SELECT id,
           (lower(host), port, username, security)
               IS DISTINCT FROM (lower($3::text), $4::int, $5::text, $7::text) AS repointed,
           password <> '' AS had_password
    FROM outpost.smtp_servers
    WHERE id = $1
    FOR UPDATE
)
UPDATE outpost.smtp_servers s
SET name = $2, host = $3, port = $4, username = $5,
    password = CASE WHEN $6::text IS NOT NULL THEN $6
                    WHEN old.repointed THEN ''
                    ELSE s.password END,
    security = $7, "order" = $8, timeout_seconds = $9, updated_at = now()
FROM old
WHERE s.id = old.id
RETURNING old.repointed AND old.had_password AND $6::text IS NULL AS cleared
