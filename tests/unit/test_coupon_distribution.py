"""The pure parts of coupon distribution (#26 item 2): a grant's coupon ids, the price a coupon
exchange is held to, and the one-way imports (points and benefits use coupons, never back)."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from chalicelib.coupons.packs import coupon_id_of
from chalicelib.coupons.terms import Terms
from chalicelib.points.schemas import Redeem
from tests.unit.test_layers import ROOT, _imports

TEA = {"kind": "no_threshold", "title": "5元奶茶券", "amount_off_fen": 500, "validity": {"days_after_claim": 30}}


def test_a_grant_s_coupon_ids_are_the_same_every_time_and_differ_between_grants():
    a = [coupon_id_of("benefit/M1/silver#P#upgrade:V2:2026-03-01", "T1", n) for n in range(2)]
    assert a == [coupon_id_of("benefit/M1/silver#P#upgrade:V2:2026-03-01", "T1", n) for n in range(2)]
    assert len(set(a)) == 2 and all(len(c) == 26 and c.startswith("P") for c in a)
    assert coupon_id_of("benefit/M1/silver#P#upgrade:V2:2026-03-02", "T1", 0) not in a


def test_a_points_price_is_a_positive_whole_number_or_none():
    assert Terms.model_validate({**TEA, "points_price": 300}).points_price == 300
    assert Terms.model_validate(TEA).points_price is None
    for bad in (0, -1, 10**10, "300", 1.5):
        with pytest.raises(ValidationError):
            Terms.model_validate({**TEA, "points_price": bad})


def test_a_coupon_exchange_names_no_order_and_spends_the_default_points():
    assert Redeem.model_validate({"points": 300, "coupon_template_id": "T1"}).coupon_template_id == "T1"
    for bad in ({"points": 300, "coupon_template_id": "T1", "order_id": "o1", "order_amount_fen": 1},
                {"points": 300, "coupon_template_id": "T1", "point_type": "stars"},
                {"points": 300, "coupon_template_id": ""}, {"points": 300}):
        with pytest.raises(ValidationError):
            Redeem.model_validate(bad)


@pytest.mark.parametrize("user", ["points", "benefits", "stored_value"])
def test_coupons_never_import_the_capabilities_that_grant_them(user):
    found = [(p.name, target) for p in (ROOT / "chalicelib" / "coupons").glob("*.py") for _, target, _ in _imports(p)
             if target.startswith(f"chalicelib.{user}")]
    assert found == []


def test_a_unit_rolls_back_to_a_savepoint_and_keeps_what_came_before():
    from chalicelib.benefits.tables import EntitlementItem
    from chalicelib.db.uow import UnitOfWork
    from chalicelib.shared.events import DomainEvent
    uow = UnitOfWork("test")
    kept = EntitlementItem(*EntitlementItem.key("M1", "r", "P", "2026-03"))
    uow.create(kept)
    uow.emit(DomainEvent("benefit.granted", "member:M1", {}))
    point = uow.savepoint()
    uow.create(EntitlementItem(*EntitlementItem.key("M1", "r", "Q", "2026-03")))
    uow.emit(DomainEvent("coupon.issued", "member:M1", {}))
    uow.after_commit(lambda: None)
    uow.rollback_to(point)
    assert uow.savepoint() == point and (len(point[0]), point[1], point[2]) == (1, 1, 0)
    assert [e.type for e in uow.events] == ["benefit.granted"]
