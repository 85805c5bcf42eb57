-- console_daemon_gone: daemon $1 stopped cleanly; also forget daemons silent
-- for a day.
DELETE FROM outpost.daemons WHERE worker = $1 OR last_seen < now() - interval '1 day'
