-- schedules_enabled: every enabled schedule with the time it last fired
-- (its creation, if never).
SELECT name, cron, timezone, coalesce(last_fired_at, created_at) AS since
FROM outpost.schedules
WHERE enabled
ORDER BY name
