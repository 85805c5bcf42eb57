-- current.drain.sql with the claim's byte budget of 0018's claim.sql (the
-- window sum over the candidates' payload bytes). One dispatcher cycle on the shipped schema, as claim.sql and record.sql do
-- it (one kind, no recipient join): claim :batch rows (committed), then
-- record their outcomes with their attempt rows (committed).
WITH claimed AS (
    UPDATE outpost.messages m
    SET status = 'sending', worker = 'w' || :client_id,
        leased_until = now() + interval '60 seconds', attempts = m.attempts + 1, updated_at = now()
    WHERE m.id = ANY (ARRAY(
        SELECT b.id FROM (
        SELECT q.id, sum(q.bytes) OVER (ORDER BY q.priority DESC, q.run_at, q.id) - q.bytes AS before
        FROM unnest(ARRAY['email'], ARRAY[:batch]) AS k(kind, n)
        CROSS JOIN LATERAL (
            SELECT id, priority, run_at,
                   outpost.json_bytes(context) + outpost.json_bytes(options)
                   + coalesce(octet_length(subject), 0) + coalesce(octet_length(body), 0)
                   + coalesce(octet_length(html), 0) AS bytes
            FROM outpost.messages
            WHERE status = 'queued' AND kind = k.kind AND run_at <= now()
              AND (expires_at IS NULL OR expires_at > now())
            ORDER BY priority DESC, run_at, id LIMIT k.n FOR UPDATE SKIP LOCKED) q
        ORDER BY q.priority DESC, q.run_at, q.id LIMIT :batch) b
        WHERE b.before < 33554432::bigint))
    RETURNING m.id, m.attempts, m.to_address, m.subject, m.body, m.context, m.options
)
SELECT coalesce(array_agg(id), '{}')::text AS ids, coalesce(array_agg(attempts), '{}')::text AS atts
FROM claimed \gset
WITH input AS (
    SELECT * FROM unnest(':ids'::bigint[], ':atts'::int[]) AS i(id, attempt)
), applied AS (
    UPDATE outpost.messages m
    SET status = 'sent', leased_until = NULL, provider_message_id = coalesce(NULL, m.provider_message_id),
        last_error = NULL, sent_at = now(), finished_at = now(), updated_at = now()
    FROM input i
    WHERE m.id = ANY (':ids'::bigint[]) AND m.id = i.id AND m.status = 'sending'
      AND m.worker = 'w' || :client_id AND m.attempts = i.attempt
    RETURNING m.id
)
INSERT INTO outpost.attempts AS a (message_id, attempt, worker, provider, started_at, finished_at, outcome, applied)
SELECT i.id, i.attempt, 'w' || :client_id, 'discard', now(), now(), 'sent', p.id IS NOT NULL
FROM input i LEFT JOIN applied p ON p.id = i.id
ON CONFLICT (message_id, attempt) DO NOTHING;
