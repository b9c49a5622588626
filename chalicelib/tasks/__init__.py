"""Tasks: goals ops set (complete the profile, N orders, spend ¥X, refer K friends, a custom event
count) whose completion grants a tier, growth value or points, once per period."""
