-- console_user_delete: remove console user $1 (its sessions go with it).
DELETE FROM outpost.console_users WHERE name = $1
