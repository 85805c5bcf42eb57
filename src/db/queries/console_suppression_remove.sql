-- console_suppression_remove: lift the suppression of address $2 of family $1.
DELETE FROM outpost.suppressions
WHERE family = $1 AND address = outpost.normalize_address($2)
RETURNING family, address, reason, source
