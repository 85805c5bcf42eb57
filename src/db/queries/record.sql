-- record: write a batch of outcomes for worker $1. A message is updated only
-- while it is still this worker's attempt (sending, same worker, same attempt
-- number: nobody has rescued or re-claimed it, even if the lease ran out);
-- every outcome gets its attempt row either way, marked applied or not,
-- unless it was refunded (deferred by an open circuit without any send; the
-- message's deferrals count says so). A delivered or bounced event that
-- arrived during the send decides the status. An attempt the rescuer marked
-- 'unknown' stays so: the late outcome is noted beside it.
WITH input AS (
    SELECT *
    FROM unnest($2::bigint[], $3::int[], $4::text[], $5::timestamptz[], $6::text[],
                $7::text[], $8::text[], $9::text[], $10::text[], $11::timestamptz[],
                $12::timestamptz[], $13::text[], $14::int[], $15::bool[], $16::bool[])
        AS i(id, attempt, status, run_at, outcome, provider, provider_code, error,
             provider_message_id, started_at, finished_at, note, segments, refund, deferred)
), applied AS (
    UPDATE outpost.messages m
    -- A delivered or bounced event that came while the message was being
    -- sent is the truth about it, whatever this attempt concluded.
    SET status = CASE WHEN m.pending_status IS NOT NULL AND i.status IN ('sent', 'queued', 'failed')
                      THEN m.pending_status ELSE i.status END,
        -- Refunded: the provider's circuit was open and nothing was sent.
        attempts = m.attempts - CASE WHEN i.refund THEN 1 ELSE 0 END,
        deferrals = m.deferrals + CASE WHEN i.deferred THEN 1 ELSE 0 END,
        pending_status = CASE WHEN i.status IN ('sent', 'queued', 'failed') THEN NULL
                              ELSE m.pending_status END,
        pending_error = CASE WHEN i.status IN ('sent', 'queued', 'failed') THEN NULL
                             ELSE m.pending_error END,
        run_at = coalesce(i.run_at, m.run_at),
        leased_until = NULL,
        provider_message_id = coalesce(i.provider_message_id, m.provider_message_id),
        segments = coalesce(i.segments, m.segments),
        last_error = CASE WHEN m.pending_status = 'bounced' AND i.status IN ('sent', 'queued', 'failed')
                          THEN m.pending_error
                          WHEN m.pending_status = 'delivered' AND i.status IN ('sent', 'queued', 'failed')
                          THEN NULL ELSE i.error END,
        sent_at = CASE WHEN i.status = 'sent' THEN i.finished_at ELSE m.sent_at END,
        finished_at = CASE WHEN i.status = 'queued' AND m.pending_status IS NULL THEN NULL
                           ELSE i.finished_at END,
        updated_at = now()
    FROM input i
    -- id = ANY($2) lets every plan, generic ones included, fetch the rows by
    -- primary key instead of scanning the table.
    WHERE m.id = ANY ($2::bigint[])
      AND m.id = i.id
      AND m.status = 'sending'
      AND m.worker = $1
      AND m.attempts = i.attempt
    RETURNING m.id
)
INSERT INTO outpost.attempts AS a (message_id, attempt, worker, provider, started_at,
    finished_at, outcome, provider_code, error, provider_message_id, applied, note)
SELECT i.id, i.attempt, $1, i.provider, i.started_at, i.finished_at, i.outcome,
       i.provider_code,
       CASE WHEN p.id IS NOT NULL THEN i.error
            ELSE concat_ws('; ', i.error,
                 'the lease was lost (the message was rescued or claimed again) before this outcome was recorded, so it was not applied')
       END,
       i.provider_message_id, p.id IS NOT NULL, i.note
FROM input i
LEFT JOIN applied p ON p.id = i.id
WHERE NOT i.refund
  -- No foreign key guards attempts (0009): an outcome whose message was
  -- deleted meanwhile leaves no orphan row.
  AND (p.id IS NOT NULL OR EXISTS (SELECT 1 FROM outpost.messages x WHERE x.id = i.id))
-- The rescuer got there first: its 'unknown' stays, the late report joins it.
ON CONFLICT (message_id, attempt) DO UPDATE
SET late_outcome = EXCLUDED.outcome, late_reported_at = EXCLUDED.finished_at,
    provider = coalesce(a.provider, EXCLUDED.provider),
    provider_code = coalesce(a.provider_code, EXCLUDED.provider_code),
    provider_message_id = coalesce(a.provider_message_id, EXCLUDED.provider_message_id),
    note = concat_ws('; ', a.note, EXCLUDED.note,
                     format('worker %s reported %s after the rescuer had marked this attempt unknown%s',
                            EXCLUDED.worker, EXCLUDED.outcome, ': ' || EXCLUDED.error))
WHERE a.outcome = 'unknown' AND a.late_outcome IS NULL
-- A late report beside an 'unknown' was not applied.
RETURNING a.message_id, a.applied AND a.late_outcome IS NULL
