-- outpost_inbound: the consumer's cursor on a stream exists (at 0).
INSERT INTO outpost.consumer_cursors (consumer, stream)
VALUES (%(consumer)s, %(stream)s)
ON CONFLICT DO NOTHING
