-- console_push_enable: enable ($2 true) or disable push app $1.
UPDATE outpost.push_apps SET enabled = $2 WHERE name = $1
