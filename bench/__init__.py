"""``make bench``: cost and latency per operation, and how they grow with data."""
