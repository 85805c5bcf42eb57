-- console_message_filter: the WHERE clause of the console's message search
-- and bulk actions, over messages m JOIN message_keys k (one row per
-- message). NULL parameters match everything; the statements are planned
-- per execution (plan_cache_mode=force_custom_plan), so the NULL tests fold
-- away and the index of each filter given is used.
    ($1::text IS NULL OR m.status = $1)
AND ($2::text IS NULL OR m.kind = $2)
-- Recipient, tenant (0016) and creation time (0017) on k, the message's
-- outpost.message_keys row: a given one drives the page from its index.
AND ($3::text IS NULL OR k.to_user = $3)
AND ($4::text IS NULL OR k.to_address = $4)
AND ($5::text IS NULL OR k.tenant = $5)
AND ($6::text IS NULL OR m.provider = $6
     OR EXISTS (SELECT 1 FROM outpost.attempts a WHERE a.message_id = m.id AND a.provider = $6))
AND ($7::timestamptz IS NULL OR k.created_at >= $7)
AND ($8::timestamptz IS NULL OR k.created_at < $8)
AND ($9::bigint IS NULL OR m.id = $9)
AND ($10::text IS NULL OR m.idempotency_key = $10)
