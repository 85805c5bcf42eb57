-- cron_claim: worker $3 takes tick $2 of job $1; no row back when another
-- daemon already took this tick (or a later one).
INSERT INTO outpost.cron_runs AS r (job, last_tick, ran_by, ran_at)
VALUES ($1, $2, $3, now())
ON CONFLICT (job) DO UPDATE SET last_tick = EXCLUDED.last_tick, ran_by = EXCLUDED.ran_by, ran_at = now()
WHERE r.last_tick < EXCLUDED.last_tick
RETURNING job
