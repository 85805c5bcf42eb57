-- console_push_insert: a new push app.
INSERT INTO outpost.push_apps (name, app_key, master_secret, base_url, enabled)
VALUES ($1, $2, $3, $4, $5)
