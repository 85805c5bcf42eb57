-- mirror_to_chat: duplicate a sent e-mail into the user's private channel.
SELECT outpost.mirror_to_chat(to_user => $1, subject => $2, body => $3, outbox_message_id => $4,
                              tenant => $5)
