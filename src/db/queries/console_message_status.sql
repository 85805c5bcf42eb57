-- console_message_status: the status and tenant of message $1.
SELECT status, tenant FROM outpost.messages WHERE id = $1
