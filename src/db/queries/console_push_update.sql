-- console_push_update: edit push app $1; the master secret changes only when
-- $3 is not NULL (write-only).
UPDATE outpost.push_apps
SET app_key = $2, master_secret = coalesce($3, master_secret), base_url = $4
WHERE name = $1
