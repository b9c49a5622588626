"""Domain events: the outbox written with every change, and the stream-side dispatcher."""
