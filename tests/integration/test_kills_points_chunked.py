"""Issue #21: a spend in steps stops stepping once the rest fits the request's own transaction.

Driven through the service functions (as the endpoints call them) rather than the HTTP client, so
that this is among the quickest tests of ``chunked.fill``: a spend that stepped on without end
would hang the slower ones; this one counts the steps and fails at once."""

from __future__ import annotations

import pytest

from chalicelib.db.uow import UnitOfWork
from chalicelib.members import service as members
from chalicelib.members.schemas import RegisterMember
from chalicelib.points import accounts, chunked, ledger, reconcile, refunds, spending
from chalicelib.points.schemas import Adjust, Redeem
from chalicelib.shared import clock
from chalicelib.shared.principal import Principal
from tests.integration.test_points_features import T0

OPS = Principal("staff", "ops", "super_admin")


@pytest.fixture
def one_lot_per_transaction(memory, monkeypatch):
    """One transaction may touch only one lot; every step's commit is counted (and a spend that
    goes on stepping is stopped after five)."""
    for module in (ledger, chunked, spending, refunds):
        monkeypatch.setattr(module, "MAX_LOTS", 1)
    commits: list[int] = []

    class Counted(UnitOfWork):
        def commit(self, claim=None):
            commits.append(1)
            if len(commits) > 5:
                raise RuntimeError("a spend in steps that does not stop")
            return super().commit(claim)
    monkeypatch.setattr(chunked, "UnitOfWork", Counted)
    clock.freeze(T0)
    yield commits
    clock.freeze(None)


def _unit(change):
    uow = UnitOfWork(OPS.ref)
    reply = change(uow)
    uow.commit()
    return reply


@pytest.fixture
def two_lots(one_lot_per_transaction):
    """A member with two lots of one point (made before the step counting starts)."""
    mid = _unit(lambda uow: members.register(RegisterMember(phone="13800121030"), OPS, uow)).member_id
    for n in range(2):
        _unit(lambda uow, n=n: accounts.adjust(mid, Adjust(points=1, reason=f"lot {n}"), OPS, uow, f"lot-{n}"))
    return mid


def test_a_spend_over_two_lots_takes_one_step_then_the_spend_itself(two_lots, one_lot_per_transaction):
    mid, steps = two_lots, one_lot_per_transaction
    spent = _unit(lambda uow: spending.redeem(mid, Redeem(points=2, reward="pin"), OPS, uow, "two"))
    assert len(steps) == 1                                       # the first lot in a step, the second with the spend
    assert (spent["points"], [lot["points"] for lot in spent["lots"]], spent["balance"]) == (2, [1, 1], 0)
    account = reconcile.account(UnitOfWork(), mid, "points")
    assert account["balanced"] and (account["account"]["held"], account["account"]["redeemed"]) == (0, 2)
