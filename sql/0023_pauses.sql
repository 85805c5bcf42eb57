-- Operator controls: a kind, a provider or a tenant paused waits, visibly,
-- until it is resumed; every daemon reads this table at each claim, so a
-- pause holds within one claim everywhere. Pausing loses nothing: messages
-- stay queued. Only the daemon's role (the CLI and the console) changes it.
CREATE TABLE outpost.pauses (
    scope     text NOT NULL CHECK (scope IN ('kind', 'provider', 'tenant')),
    name      text NOT NULL CHECK (btrim(name) <> '' AND octet_length(name) <= 1024),
    paused_by text NOT NULL,
    reason    text CHECK (octet_length(reason) <= 4096),
    paused_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (scope, name)
);
REVOKE ALL ON outpost.pauses FROM PUBLIC;
GRANT SELECT, INSERT, UPDATE, DELETE ON outpost.pauses TO outpost_daemon;

-- Pauses `scope` `name` (again: the newer reason and actor win), recorded
-- in the audit log under `actor` (from `address`, for the console); returns
-- whether it was running before.
CREATE FUNCTION outpost.pause(scope text, name text, actor text, reason text DEFAULT NULL,
                              address text DEFAULT NULL)
RETURNS boolean
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
#variable_conflict use_column
DECLARE
    was_running boolean;
BEGIN
    was_running := NOT EXISTS (SELECT 1 FROM outpost.pauses p
                               WHERE p.scope = pause.scope AND p.name = pause.name);
    INSERT INTO outpost.pauses AS p (scope, name, paused_by, reason)
    VALUES (pause.scope, pause.name, pause.actor, pause.reason)
    ON CONFLICT (scope, name) DO UPDATE
        SET paused_by = EXCLUDED.paused_by, reason = EXCLUDED.reason, paused_at = now();
    INSERT INTO outpost.console_audit (actor, address, action, object, after)
    VALUES (pause.actor, pause.address, 'pause', format('%s %s', pause.scope, pause.name),
            jsonb_build_object('reason', pause.reason));
    RETURN was_running;
END;
$$;

-- Resumes it (and wakes every daemon); returns whether it was paused.
CREATE FUNCTION outpost.resume(scope text, name text, actor text, address text DEFAULT NULL)
RETURNS boolean
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
#variable_conflict use_column
DECLARE
    was_paused boolean;
BEGIN
    DELETE FROM outpost.pauses p WHERE p.scope = resume.scope AND p.name = resume.name;
    was_paused := FOUND;
    IF was_paused THEN
        INSERT INTO outpost.console_audit (actor, address, action, object)
        VALUES (resume.actor, resume.address, 'resume', format('%s %s', resume.scope, resume.name));
        PERFORM pg_notify('outpost_messages', '');
    END IF;
    RETURN was_paused;
END;
$$;
REVOKE EXECUTE ON FUNCTION outpost.pause(text, text, text, text, text),
    outpost.resume(text, text, text, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION outpost.pause(text, text, text, text, text),
    outpost.resume(text, text, text, text) TO outpost_daemon;
