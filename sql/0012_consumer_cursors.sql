-- Consumers outside the daemon (the Django app's `outpost_inbound` command):
-- a durable cursor per consumer and stream, so every stored inbound e-mail
-- and provider event reaches them in id order, across restarts; and a NOTIFY
-- when provider events are stored, as `outpost_inbound` is for e-mails.
-- Forward-only: never edit this file once released; add a new NNNN_name.sql.

CREATE TABLE outpost.consumer_cursors (
    consumer    text NOT NULL,
    -- inbound: outpost.inbound_emails ids; events: outpost.events ids.
    stream      text NOT NULL CHECK (stream IN ('inbound', 'events')),
    last_id     bigint NOT NULL DEFAULT 0,
    updated_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (consumer, stream)
);

-- One NOTIFY per INSERT statement; delivered at commit, so a listener reads
-- the event together with the status it gave its message.
CREATE FUNCTION outpost.notify_events() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('outpost_events', '');
    RETURN NULL;
END;
$$;

CREATE TRIGGER events_notify AFTER INSERT ON outpost.events
    FOR EACH STATEMENT EXECUTE FUNCTION outpost.notify_events();

-- Applications may read what was received and what providers reported, and
-- keep their cursors.
GRANT SELECT ON outpost.inbound_emails, outpost.inbound_attachments, outpost.events TO outpost_app;
GRANT SELECT, INSERT, UPDATE ON outpost.consumer_cursors TO outpost_app;
GRANT SELECT, INSERT, UPDATE, DELETE ON outpost.consumer_cursors TO outpost_daemon;
