"""The ledger mechanism every balance shares (points today; stored value, gift cards and coupon
stock next): a versioned account item that is the lock, gap-free postings numbered by version,
one event per change, reconciliation; and pure lot arithmetic (soonest-first spending, put-back
with original expiry, expiry, chunking)."""
