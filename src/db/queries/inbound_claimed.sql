-- inbound_claimed: whether one of this database's inbound routes claims a
-- recipient of $1 (a daemon serving several databases stores the mail in
-- the first that does).
SELECT outpost.inbound_tenant($1) IS NOT NULL AS claimed
