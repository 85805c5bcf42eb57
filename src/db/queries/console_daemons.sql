-- console_daemons: every daemon's heartbeat with its age in seconds, most recent first.
SELECT worker, host, pid, version, started_at, last_seen, circuits,
       extract(epoch FROM now() - last_seen)::float8 AS age
FROM outpost.daemons
ORDER BY last_seen DESC
