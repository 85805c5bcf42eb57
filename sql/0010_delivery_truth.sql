-- Delivery truth: provider events that arrive before the outcome, deferrals
-- by an open circuit, late outcomes kept beside the 'unknown' marker, and a
-- claim index per kind.

-- A delivered/bounced event that arrived while the message was still being
-- sent; applied when its 'sent' outcome is recorded.
ALTER TABLE outpost.messages
    ADD COLUMN pending_status text
        CONSTRAINT messages_pending_status_check CHECK (pending_status IN ('delivered', 'bounced')),
    ADD COLUMN pending_error text,
    -- Times an open circuit sent the message back to the queue unsent (no
    -- attempt spent); the reason is in last_error while it waits.
    ADD COLUMN deferrals int NOT NULL DEFAULT 0;

-- What a worker reported for an attempt after the rescuer had already
-- marked it 'unknown'. The attempt stays 'unknown': the message may have
-- reached the provider twice.
ALTER TABLE outpost.attempts
    ADD COLUMN late_outcome text
        CONSTRAINT attempts_late_outcome_check CHECK (late_outcome IN ('sent', 'retry', 'failed')),
    ADD COLUMN late_reported_at timestamptz;

-- The claim takes rows per kind (each kind only as many as it can start
-- sending now): one index range per kind.
CREATE INDEX messages_claim_kind_idx ON outpost.messages (kind, priority DESC, run_at, id)
    WHERE status = 'queued';
DROP INDEX outpost.messages_claim_idx;

-- message_status gains possible_duplicate (two or more attempts that may have
-- reached the provider: sent, or unknown) and deferrals.
CREATE OR REPLACE VIEW outpost.message_status AS
SELECT m.id, m.kind, m.status, m.to_user, m.to_address, m.tenant, m.template, m.subject,
       m.priority, m.attempts, m.max_attempts, m.provider_message_id, m.last_error,
       m.segments, m.created_at, m.run_at, m.expires_at, m.sent_at, m.finished_at, m.updated_at,
       a.attempt AS last_attempt, a.provider AS last_provider, a.outcome AS last_outcome,
       a.worker AS last_worker, a.started_at AS last_attempt_started_at,
       a.finished_at AS last_attempt_finished_at, a.error AS last_attempt_error,
       a.note AS last_attempt_note,
       e.event AS last_event, e.received_at AS last_event_at,
       coalesce(d.reached, 0) >= 2 AS possible_duplicate,
       m.deferrals
FROM outpost.messages m
LEFT JOIN LATERAL (
    SELECT * FROM outpost.attempts a WHERE a.message_id = m.id ORDER BY a.attempt DESC LIMIT 1
) a ON true
LEFT JOIN LATERAL (
    SELECT * FROM outpost.events e WHERE e.message_id = m.id ORDER BY e.received_at DESC, e.id DESC LIMIT 1
) e ON true
LEFT JOIN LATERAL (
    SELECT count(*) AS reached FROM outpost.attempts x
    WHERE x.message_id = m.id AND x.outcome IN ('sent', 'unknown')
) d ON true;

-- options.cc / options.bcc as a JSON array of strings: a string is a list of
-- one, anything else none (the composer rejects it with a readable error).
CREATE FUNCTION outpost.address_list(value jsonb) RETURNS jsonb
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE jsonb_typeof(value)
               WHEN 'string' THEN jsonb_build_array(value)
               WHEN 'array' THEN coalesce((SELECT jsonb_agg(x) FROM jsonb_array_elements(value) x
                                           WHERE jsonb_typeof(x) = 'string'), '[]'::jsonb)
               ELSE '[]'::jsonb END;
$$;
