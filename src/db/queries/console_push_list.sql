-- console_push_list: the eGuide apps of outpost.push_apps; the master secret
-- only as set / not set.
SELECT name, app_key, master_secret <> '' AS secret_set, base_url, enabled, created_at
FROM outpost.push_apps
ORDER BY name
