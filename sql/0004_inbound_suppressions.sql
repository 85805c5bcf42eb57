-- Receiving: inbound e-mail (SendGrid Inbound Parse) and its attachments;
-- the suppression list fed by bounces; provider_message_id lookups for events.

-- "Ann <Ann@Example.com>" → "ann@example.com"; phone numbers and ids trimmed.
CREATE FUNCTION outpost.normalize_address(address text) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT lower(btrim(coalesce(substring(address FROM '<([^<>]*)>'), address)));
$$;

-- Which suppression family a message kind belongs to: SMS and voice share phones.
CREATE FUNCTION outpost.address_family(kind text) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE kind WHEN 'sms' THEN 'phone' WHEN 'voice' THEN 'phone' ELSE kind END;
$$;

-- Addresses that must not be sent to. A message to one ends 'suppressed'
-- without a send. Lift one with DELETE.
CREATE TABLE outpost.suppressions (
    family      text NOT NULL DEFAULT 'email'
        CHECK (family IN ('email', 'phone', 'push', 'chat')),
    address     text NOT NULL CHECK (address = outpost.normalize_address(address) AND address <> ''),
    reason      text,
    -- Where it came from: manual, sendgrid:bounce, sendgrid:dropped, …
    source      text NOT NULL DEFAULT 'manual',
    created_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (family, address)
);

CREATE TABLE outpost.inbound_emails (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    -- Message-ID when the mail has one, else a hash of the request: a
    -- retried delivery is stored once.
    dedupe_key      text NOT NULL UNIQUE,
    message_id      text,
    -- parsed (SendGrid's default) or raw ("Send Raw": the whole MIME message).
    mode            text NOT NULL CHECK (mode IN ('parsed', 'raw')),
    from_address    text,
    to_addresses    text,
    cc              text,
    subject         text,
    text_body       text,
    html_body       text,
    headers         text,
    envelope        jsonb,
    sender_ip       text,
    spf             text,
    dkim            text,
    spam_score      double precision,
    spam_report     text,
    charsets        jsonb,
    raw_message     text,
    received_at     timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX inbound_emails_received_idx ON outpost.inbound_emails (received_at);

CREATE TABLE outpost.inbound_attachments (
    id                bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    inbound_email_id  bigint NOT NULL REFERENCES outpost.inbound_emails (id) ON DELETE CASCADE,
    filename          text,
    content_type      text,
    content_id        text,
    size              int NOT NULL,
    content           bytea NOT NULL
);
CREATE INDEX inbound_attachments_email_idx ON outpost.inbound_attachments (inbound_email_id);
