-- console_push_update: edit push app $1. The master secret becomes $3 when it
-- is not NULL; else it is kept, unless the base URL changes (case aside): then
-- it is cleared, so the secret never follows the app to a new destination
-- (write-only). Returns whether it was cleared that way.
WITH old AS (
    SELECT name,
           lower(base_url) IS DISTINCT FROM lower($4::text) AS repointed,
           master_secret <> '' AS had_secret
    FROM outpost.push_apps
    WHERE name = $1
    FOR UPDATE
)
UPDATE outpost.push_apps p
SET app_key = $2,
    master_secret = CASE WHEN $3::text IS NOT NULL THEN $3
                         WHEN old.repointed THEN ''
                         ELSE p.master_secret END,
    base_url = $4
FROM old
WHERE p.name = old.name
RETURNING old.repointed AND old.had_secret AND $3::text IS NULL AS cleared
