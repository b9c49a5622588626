"""The ledger mechanism every balance shares (points, stored value and gift cards; coupon stock
next): a versioned account item that is the lock, gap-free postings numbered by version said in
one vocabulary (``account.JournalAccount``), one event per change, reconciliation; counters
bounded by their limit at commit (``counters``), a payment reference applied once (``once``), the
refund bound (``refunds``), a stock claims take from, sharded past one item's write rate
(``stock``); and pure lot arithmetic (soonest-first spending, put-back with
original expiry, expiry, chunking)."""
