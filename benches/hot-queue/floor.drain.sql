-- The floor: claim (queue → inflight, reading the message), then delete the
-- inflight rows. No message update, no attempt row.
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
    SELECT m.id, m.attempts + 1 AS attempts, now() + interval '60 seconds' AS leased_until,
           m.to_address, m.subject, m.body, m.context, m.options
    FROM outpost.messages m JOIN q ON m.id = q.id
), leased AS (
    INSERT INTO outpost.inflight SELECT id, 'w' || :client_id, attempts, leased_until FROM claimed
)
SELECT coalesce(array_agg(id), '{}')::text AS ids, coalesce(array_agg(attempts), '{}')::text AS atts
FROM claimed \gset
DELETE FROM outpost.inflight l
WHERE l.id = ANY (':ids'::bigint[]) AND l.worker = 'w' || :client_id;
