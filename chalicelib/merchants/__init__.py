"""Merchants, their stores and their API keys."""
