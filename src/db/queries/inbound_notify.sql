-- inbound_notify: tell listeners (outpost_inbound) that inbound e-mail $1 was
-- stored; delivered at commit.
SELECT pg_notify('outpost_inbound', $1)
