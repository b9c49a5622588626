"""``make mutation``: how strong the tests of the money code are (see ``__main__``)."""
