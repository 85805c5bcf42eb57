-- console_push_get: push app $1, secret included (for test pushes; never shown).
SELECT name, app_key, master_secret, master_secret <> '' AS secret_set, base_url, enabled
FROM outpost.push_apps
WHERE name = $1
