-- push_app: an enabled eGuide app by name.
SELECT name, app_key, master_secret, base_url FROM outpost.push_apps WHERE name = $1 AND enabled
