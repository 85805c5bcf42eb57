-- `outpost inbox rotate-key`: a new signing key; returns its version.
SELECT outpost.inbox_rotate_key() AS version
