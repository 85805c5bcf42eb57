-- phone_send_slot: take a send slot for number $1 (at most $2 an hour);
-- NULL: go, else when the next slot frees.
SELECT outpost.phone_send_slot($1, $2)
