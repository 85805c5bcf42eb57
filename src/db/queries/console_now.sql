-- console_now: the database clock, which every timestamp the console shows comes from.
SELECT now()
