-- console_suppression_add: suppress address $2 (normalised) of family $1 with reason $3.
INSERT INTO outpost.suppressions (family, address, reason, source)
VALUES ($1, outpost.normalize_address($2), $3, 'console')
ON CONFLICT (family, address) DO UPDATE SET reason = excluded.reason
RETURNING family, address, reason, source
