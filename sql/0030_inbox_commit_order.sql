-- The inbox in commit order (issue 29): a chat message's id is taken at
-- insert, so two transactions may commit in the other order, and "the
-- messages after id N" misses one that commits after a higher-numbered one
-- was seen. Each new chat message now records the transaction that wrote it,
-- and the daemon and a reconnecting stream ask instead "what committed since
-- this snapshot" (pg_visible_in_snapshot), which misses nothing.

-- NULL: written before this migration (never replayed by snapshot). The
-- application cannot set it: its INSERT grant names only channel_id, sender
-- and body.
ALTER TABLE outpost.chat_messages ADD COLUMN written_by xid8;
ALTER TABLE outpost.chat_messages ALTER COLUMN written_by SET DEFAULT pg_current_xact_id();
-- "Committed since snapshot S" is asked as "written from S's xmax on, or by
-- one S had in progress": a range at the recent end of this index and a few
-- lookups, however far back a long transaction holds S's xmin.
CREATE INDEX chat_messages_written_by_idx ON outpost.chat_messages (written_by)
    WHERE written_by IS NOT NULL;

-- New chat messages: one 'm' per statement, which PostgreSQL folds into one
-- notification per transaction; the daemon reads what committed since its
-- last read, so the ids are no longer carried.
CREATE OR REPLACE FUNCTION outpost.inbox_notify_messages() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    PERFORM pg_notify('outpost_inbox', 'm');
    RETURN NULL;
END;
$$;
DROP TRIGGER chat_messages_inbox ON outpost.chat_messages;
CREATE TRIGGER chat_messages_inbox AFTER INSERT ON outpost.chat_messages
    FOR EACH STATEMENT EXECUTE FUNCTION outpost.inbox_notify_messages();
