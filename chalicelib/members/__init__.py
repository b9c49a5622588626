"""Members and their identities (the OneID index)."""

from chalicelib.members import repository as _repository  # noqa: E402,F401  (registers uow.members)
