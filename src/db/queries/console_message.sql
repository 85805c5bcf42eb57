-- console_message: one message with everything the console shows.
SELECT m.*,
       (SELECT count(*) FROM outpost.attempts a
        WHERE a.message_id = m.id AND a.outcome IN ('sent', 'unknown')) >= 2 AS possible_duplicate
FROM outpost.messages m
WHERE m.id = $1
