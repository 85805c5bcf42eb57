-- suppress: put an address on the suppression list (kept if already there).
INSERT INTO outpost.suppressions (family, address, reason, source)
VALUES ($1, outpost.normalize_address($2), $3, $4)
ON CONFLICT (family, address) DO NOTHING
