-- outpost_inbound: the consumer's place on a stream, locked until the row
-- after it is handled.
SELECT last_id
FROM outpost.consumer_cursors
WHERE consumer = %(consumer)s AND stream = %(stream)s
FOR UPDATE
