-- console_daemon_beat: daemon $1 (host $2, pid $3, version $4) is alive, with
-- its circuits $5.
INSERT INTO outpost.daemons (worker, host, pid, version, circuits)
VALUES ($1, $2, $3, $4, $5)
ON CONFLICT (worker) DO UPDATE SET last_seen = now(), circuits = excluded.circuits
