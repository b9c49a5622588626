"""Tiers: a versioned growth-value ladder, upgrades from the event stream, validity reviews,
manual floors and tier history."""
