-- resume: resume $1 $2 (by actor $3, from address $4); true when it was
-- paused.
SELECT outpost.resume($1, $2, $3, $4)
