-- outpost.status(): the message as outpost.message_status shows it, and
-- whether this role may read every attempt (outpost_app may not).
SELECT s.*, has_table_privilege('outpost.attempts', 'SELECT') AS can_read_attempts
FROM outpost.message_status s
WHERE s.id = %(id)s
