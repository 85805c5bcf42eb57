-- console_schedule_enable: enable ($2 true) or disable schedule $1.
UPDATE outpost.schedules SET enabled = $2 WHERE name = $1
