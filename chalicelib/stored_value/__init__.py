"""Stored value: prepaid accounts with principal and bonus apart, top-up bonuses, payments and
refunds at merchants, cash-out, and double entry that reconciles to the fen."""
