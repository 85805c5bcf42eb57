-- One dispatcher cycle on the narrow-queue design: the claim moves rows from
-- queue to inflight and marks the message 'sending' (HOT); the outcome
-- removes the inflight row, marks the message 'sent' (HOT) and inserts the
-- attempt.
WITH q AS (
    DELETE FROM outpost.queue
    WHERE id = ANY (ARRAY(
        SELECT q.id FROM unnest(ARRAY['email'], ARRAY[:batch]) AS k(kind, n)
        CROSS JOIN LATERAL (
            SELECT id, priority, run_at FROM outpost.queue
            WHERE kind = k.kind AND run_at <= now() AND (expires_at IS NULL OR expires_at > now())
            ORDER BY priority DESC, run_at, id LIMIT k.n FOR UPDATE SKIP LOCKED) q
        ORDER BY q.priority DESC, q.run_at, q.id LIMIT :batch))
    RETURNING id
), claimed AS (
    UPDATE outpost.messages m
    SET status = 'sending', worker = 'w' || :client_id,
        leased_until = now() + interval '60 seconds', attempts = m.attempts + 1, updated_at = now()
    FROM q WHERE m.id = q.id
    RETURNING m.id, m.attempts, m.leased_until, m.to_address, m.subject, m.body, m.context, m.options
), leased AS (
    INSERT INTO outpost.inflight SELECT id, 'w' || :client_id, attempts, leased_until FROM claimed
)
SELECT coalesce(array_agg(id), '{}')::text AS ids, coalesce(array_agg(attempts), '{}')::text AS atts
FROM claimed \gset
WITH input AS (
    SELECT * FROM unnest(':ids'::bigint[], ':atts'::int[]) AS i(id, attempt)
), held AS (
    DELETE FROM outpost.inflight l USING input i
    WHERE l.id = ANY (':ids'::bigint[]) AND l.id = i.id
      AND l.worker = 'w' || :client_id AND l.attempt = i.attempt
    RETURNING l.id
), applied AS (
    UPDATE outpost.messages m
    SET status = 'sent', leased_until = NULL, provider_message_id = coalesce(NULL, m.provider_message_id),
        last_error = NULL, sent_at = now(), finished_at = now(), updated_at = now()
    FROM held h WHERE m.id = h.id
    RETURNING m.id
)
INSERT INTO outpost.attempts AS a (message_id, attempt, worker, provider, started_at, finished_at, outcome, applied)
SELECT i.id, i.attempt, 'w' || :client_id, 'discard', now(), now(), 'sent', p.id IS NOT NULL
FROM input i LEFT JOIN applied p ON p.id = i.id
ON CONFLICT (message_id, attempt) DO NOTHING;
