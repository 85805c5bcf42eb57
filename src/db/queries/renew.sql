-- renew: extend worker $1's leases on the messages in flight ($2 with their
-- attempt numbers $3) to $4 seconds from now, while each is still this
-- worker's attempt; returns those renewed (any other was rescued or taken).
UPDATE outpost.messages m
SET leased_until = now() + make_interval(secs => $4)
FROM unnest($2::bigint[], $3::int[]) AS i(id, attempt)
WHERE m.id = ANY ($2::bigint[])
  AND m.id = i.id
  AND m.status = 'sending'
  AND m.worker = $1
  AND m.attempts = i.attempt
RETURNING m.id
