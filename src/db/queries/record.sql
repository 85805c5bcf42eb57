-- record: write a batch of outcomes for worker $1. A message is updated only
-- while this worker still holds its lease for that attempt; every outcome
-- gets its attempt row either way, marked applied or not, unless it was
-- refunded (deferred by an open circuit without any send).
WITH input AS (
    SELECT *
    FROM unnest($2::bigint[], $3::int[], $4::text[], $5::timestamptz[], $6::text[],
                $7::text[], $8::text[], $9::text[], $10::text[], $11::timestamptz[],
                $12::timestamptz[], $13::text[], $14::int[], $15::bool[])
        AS i(id, attempt, status, run_at, outcome, provider, provider_code, error,
             provider_message_id, started_at, finished_at, note, segments, refund)
), applied AS (
    UPDATE outpost.messages m
    SET status = i.status,
        -- Refunded: the provider's circuit was open and nothing was sent.
        attempts = m.attempts - CASE WHEN i.refund THEN 1 ELSE 0 END,
        run_at = coalesce(i.run_at, m.run_at),
        leased_until = NULL,
        provider_message_id = coalesce(i.provider_message_id, m.provider_message_id),
        segments = coalesce(i.segments, m.segments),
        last_error = i.error,
        sent_at = CASE WHEN i.status = 'sent' THEN i.finished_at ELSE m.sent_at END,
        finished_at = CASE WHEN i.status = 'queued' THEN NULL ELSE i.finished_at END,
        updated_at = now()
    FROM input i
    -- id = ANY($2) lets every plan, generic ones included, fetch the rows by
    -- primary key instead of scanning the table.
    WHERE m.id = ANY ($2::bigint[])
      AND m.id = i.id
      AND m.status = 'sending'
      AND m.worker = $1
      AND m.attempts = i.attempt
      AND m.leased_until > now()
    RETURNING m.id
)
INSERT INTO outpost.attempts AS a (message_id, attempt, worker, provider, started_at,
    finished_at, outcome, provider_code, error, provider_message_id, applied, note)
SELECT i.id, i.attempt, $1, i.provider, i.started_at, i.finished_at, i.outcome,
       i.provider_code,
       CASE WHEN p.id IS NOT NULL THEN i.error
            ELSE concat_ws('; ', i.error,
                 'the lease was lost before this outcome was recorded, so it was not applied')
       END,
       i.provider_message_id, p.id IS NOT NULL, i.note
FROM input i
LEFT JOIN applied p ON p.id = i.id
WHERE NOT i.refund
  -- No foreign key guards attempts (0009): an outcome whose message was
  -- deleted meanwhile leaves no orphan row.
  AND (p.id IS NOT NULL OR EXISTS (SELECT 1 FROM outpost.messages x WHERE x.id = i.id))
ON CONFLICT (message_id, attempt) DO UPDATE
SET provider = EXCLUDED.provider, finished_at = EXCLUDED.finished_at,
    outcome = EXCLUDED.outcome, provider_code = EXCLUDED.provider_code,
    error = EXCLUDED.error, provider_message_id = EXCLUDED.provider_message_id,
    applied = EXCLUDED.applied, note = EXCLUDED.note
WHERE a.outcome = 'unknown'
RETURNING a.message_id, a.applied
