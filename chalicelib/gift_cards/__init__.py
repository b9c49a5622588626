"""Gift cards and card keys: batches, sales, activation, redemption into stored value, payment."""

from chalicelib.gift_cards import repository  # noqa: F401  (registers uow.gift_cards)
