-- console_user_find: console user $1 with its password hash.
SELECT name, role, password_hash FROM outpost.console_users WHERE name = $1
