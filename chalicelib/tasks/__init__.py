"""Tasks: goals ops set (complete the profile, N orders, spend ¥X, refer K friends, a custom event
count) whose completion grants a tier, growth value or points, once per period."""

from chalicelib.tasks import repository as _repository  # noqa: E402,F401  (registers uow.tasks)
