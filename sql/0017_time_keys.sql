-- Searches by time go through the keys too. messages_created_idx and
-- messages_finished_idx each took an entry at the claim and at the outcome
-- (neither update can be HOT), about a tenth of the drain (BENCHMARKS.md,
-- issue 19). The creation time is already in outpost.message_keys (0016),
-- written once with the message; an index there serves the time-window
-- statistics, the console's overview and its date filter, and the retention
-- purge (a message finishes after it was created, so the messages finished
-- before a cutoff are among those created before it).
-- Forward-only: never edit this file once released; add a new NNNN_name.sql.

CREATE INDEX message_keys_created_idx ON outpost.message_keys (created_at);

DROP INDEX outpost.messages_created_idx;
DROP INDEX outpost.messages_finished_idx;
