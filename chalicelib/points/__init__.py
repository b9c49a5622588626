"""Points: earn rules, an append-only ledger over expiring lots, holds, refunds, expiry, reports."""
