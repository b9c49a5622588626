"""What every money store's refund of a payment checks: refunds of one payment add up and never
pass what it paid (stored value payments, gift card payments; coupons next)."""

from __future__ import annotations

from chalicelib.shared.errors import Conflict


class RefundExceedsPayment(Conflict):
    slug, title = "refund-exceeds-payment", "Refunds would exceed the payment"


def within_payment(refunded: int, amount: int, paid: int) -> None:
    """Refuse a refund of ``amount`` when ``refunded`` already plus it would pass ``paid``."""
    if refunded + amount > paid:
        raise RefundExceedsPayment(f"refunds would total {refunded + amount} fen of a {paid} fen payment",
                                   refunded_fen=refunded)
