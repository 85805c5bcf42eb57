-- send_system_message: append a rendered chat message for an outbox row.
SELECT outpost.send_system_message(to_user => $1, message => $2, format => $3, tenant => $4,
                                   outbox_message_id => $5)
