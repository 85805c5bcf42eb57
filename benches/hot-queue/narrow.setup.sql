-- The narrow-queue design: messages keeps only indexes on columns that never
-- change after the INSERT (HOT updates, fillfactor 80); waiting rows live in
-- outpost.queue, leased ones in outpost.inflight; provider message ids are
-- looked up in attempts (insert-only).
-- IF EXISTS: later migrations dropped some of them (0017: finished_idx). The
-- digest index's predicate reads status, so it goes too (digest groups would
-- be found through outpost.queue in this design).
DROP INDEX IF EXISTS outpost.messages_lease_idx, outpost.messages_expiry_idx,
    outpost.messages_claim_kind_idx, outpost.messages_status_id_idx,
    outpost.messages_finished_idx, outpost.messages_provider_message_id_idx,
    outpost.messages_digest_group_idx;
ALTER TABLE outpost.messages SET (fillfactor = 80);
CREATE TABLE outpost.queue (
    id bigint PRIMARY KEY, kind text NOT NULL, priority smallint NOT NULL,
    run_at timestamptz NOT NULL, expires_at timestamptz);
CREATE INDEX queue_claim_idx ON outpost.queue (kind, priority DESC, run_at, id);
CREATE INDEX queue_expiry_idx ON outpost.queue (expires_at) WHERE expires_at IS NOT NULL;
CREATE TABLE outpost.inflight (
    id bigint PRIMARY KEY, worker text NOT NULL, attempt int NOT NULL,
    leased_until timestamptz NOT NULL);
CREATE INDEX inflight_lease_idx ON outpost.inflight (leased_until);
CREATE INDEX attempts_provider_message_id_idx ON outpost.attempts (provider_message_id)
    WHERE provider_message_id IS NOT NULL;
-- Every new message is queued (statement-level, one INSERT … SELECT per statement).
CREATE FUNCTION outpost.queue_new() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO outpost.queue SELECT id, kind, priority, run_at, expires_at FROM new_rows;
    RETURN NULL;
END $$;
CREATE TRIGGER messages_queue AFTER INSERT ON outpost.messages
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION outpost.queue_new();
