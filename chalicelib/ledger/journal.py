"""Double entry, with no I/O: every movement of money is lines on named accounts that sum to zero.

A line debits (positive fen) or credits (negative fen) an account. Members' prepaid balances
are the program's liabilities, so a top-up *credits* ``member:principal`` and debits
``cash_clearing``; a payment debits the member and credits the merchant's settlement. Postings
carry their lines; nothing is ever edited, and a reconciliation re-adds them.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any


class Journal:
    """The lines of one posting."""

    def __init__(self) -> None:
        self.lines: list[dict[str, Any]] = []

    def move(self, debit: str, credit: str, fen: int) -> None:
        """``fen`` from ``credit`` to ``debit`` (nothing when zero; a negative amount is a bug)."""
        if fen < 0:
            raise ValueError("a journal line moves a positive amount; swap the accounts instead")
        if fen:
            self.lines += [{"account": debit, "fen": fen}, {"account": credit, "fen": -fen}]

    def net(self, account: str) -> int:
        """The sum of this posting's lines on ``account`` (debit +, credit −)."""
        return net(self.lines, account)

    def dump(self) -> str:
        """The lines as stored on the posting."""
        return json.dumps(self.lines, separators=(",", ":"), ensure_ascii=False)


def net(lines: Iterable[dict[str, Any]], account: str) -> int:
    """The sum of ``lines`` on ``account``."""
    return sum(int(line["fen"]) for line in lines if line["account"] == account)


def balanced(lines: Iterable[dict[str, Any]]) -> bool:
    """Whether debits equal credits."""
    return sum(int(line["fen"]) for line in lines) == 0
