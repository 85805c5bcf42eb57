-- Marks channel $2 read for member $1; returns how many were unread.
SELECT outpost.chat_mark_read($2::bigint, $1::text) AS marked
