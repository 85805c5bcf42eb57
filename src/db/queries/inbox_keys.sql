-- The inbox's signing keys (migration 0029), for verifying tokens.
SELECT k.version, k.secret FROM outpost.inbox_keys k ORDER BY k.version
