"""Webhooks: subscriptions, the stream's fan-out to the webhooks queue, signed delivery."""
