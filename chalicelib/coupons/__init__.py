"""Coupons: templates, stock, claims, codes, write-off at the till (issue #26)."""
