"""Staff accounts: login, roles and scope, tokens, lockout, TOTP (see docs/operators/staff.md)."""
