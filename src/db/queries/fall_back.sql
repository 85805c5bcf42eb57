-- fall_back: write message $1 again as its options.fallback kind (once;
-- migration 0028); the fallback's id, or NULL when it names none.
SELECT outpost.fall_back($1)
