"""Gift cards and card keys: batches, sales, activation, redemption into stored value, payment."""
