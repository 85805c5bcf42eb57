-- A cap on SMS and voice per number: every send to a number takes a slot
-- here first (limits.phone_per_hour in an hour), so an application bug or a
-- signup form abused for SMS pumping cannot spend the Twilio account
-- without limit. Only the daemon reads or writes it.
CREATE TABLE outpost.phone_sends (
    address text NOT NULL,
    sent_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX phone_sends_address_idx ON outpost.phone_sends (address, sent_at);
REVOKE ALL ON outpost.phone_sends FROM PUBLIC;
GRANT SELECT, INSERT, DELETE ON outpost.phone_sends TO outpost_daemon;

-- Takes a send slot for `address` (NULL: go), or returns when the next one
-- frees: at most `per_hour` in any hour, across every daemon (one number's
-- slots are taken one at a time). The number's older rows go as it is used.
CREATE FUNCTION outpost.phone_send_slot(address text, per_hour int) RETURNS timestamptz
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    taken int;
    oldest timestamptz;
BEGIN
    PERFORM pg_advisory_xact_lock(hashtextextended('outpost.phone_sends:' || address, 0));
    DELETE FROM outpost.phone_sends p
    WHERE p.address = phone_send_slot.address AND p.sent_at <= now() - interval '1 hour';
    SELECT count(*), min(p.sent_at) INTO taken, oldest FROM outpost.phone_sends p
    WHERE p.address = phone_send_slot.address;
    IF taken >= per_hour THEN
        RETURN oldest + interval '1 hour';
    END IF;
    INSERT INTO outpost.phone_sends (address) VALUES (phone_send_slot.address);
    RETURN NULL;
END;
$$;
REVOKE EXECUTE ON FUNCTION outpost.phone_send_slot(text, int) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION outpost.phone_send_slot(text, int) TO outpost_daemon;
