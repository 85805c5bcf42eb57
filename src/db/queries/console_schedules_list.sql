-- console_schedules_list: every schedule.
SELECT name, cron, timezone, message, enabled, last_fired_at, last_error, created_at
FROM outpost.schedules
ORDER BY name
