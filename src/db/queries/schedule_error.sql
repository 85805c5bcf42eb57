-- schedule_error: note why schedule $1 could not fire.
UPDATE outpost.schedules SET last_error = $2 WHERE name = $1
