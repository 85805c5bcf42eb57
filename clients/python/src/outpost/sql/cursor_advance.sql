-- outpost_inbound: the consumer is past the row just handled.
UPDATE outpost.consumer_cursors
SET last_id = %(last_id)s, updated_at = now()
WHERE consumer = %(consumer)s AND stream = %(stream)s
