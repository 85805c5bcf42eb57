-- console_suppressions_search: suppressions of family $1 (all when NULL)
-- whose address starts with $2 (normalised; all when NULL), newest first,
-- created before $3 (keyset), at most $4.
SELECT family, address, reason, source, created_at
FROM outpost.suppressions
WHERE ($1::text IS NULL OR family = $1)
  AND ($2::text IS NULL OR address LIKE replace(replace(replace(outpost.normalize_address($2), '\', '\\'), '%', '\%'), '_', '\_') || '%')
  AND ($3::timestamptz IS NULL OR created_at < $3)
ORDER BY created_at DESC, address
LIMIT $4
