"""Members and their identities (the OneID index)."""
