-- console_message_status: the status of message $1.
SELECT status FROM outpost.messages WHERE id = $1
