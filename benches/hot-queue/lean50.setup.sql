-- lean, with half of each page left free for HOT updates.
\i narrow.setup.sql
ALTER TABLE outpost.messages SET (fillfactor = 50);
