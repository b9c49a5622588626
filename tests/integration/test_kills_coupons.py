"""Coupons at their edges, on the in-memory fake (issue #21; the mutation run of session 47): a
third-party code verified live with its platform, which only the end-to-end tier drove before: what
its first use stores (the code's template, platform and batch, pointing at its coupon, so a second
use is refused here without asking the platform), a code the platform does not know, a face value
that differs from the template's, a platform's end earlier than the template's, a template that
does not verify live, and a paused one. Figures by hand."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from chalicelib.coupons import third_party, verifiers
from chalicelib.shared import clock
from chalicelib.shared.credentials import mint_token
from tests.integration.conftest import AppClient, scan

T0 = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
TPL = "/v1/coupon-templates"
LIVE = {"kind": "third_party", "title": "抖音团购 30元", "platform": "douyin", "amount_off_fen": 3_000, "codes": "live",
        "undo_window_minutes": 60, "validity": {"days_after_claim": 30}}


class Platform:
    """A platform in process: the codes it knows (code -> face value, end) and what it consumed."""

    def __init__(self) -> None:
        self.codes: dict[str, tuple[int, str | None]] = {}
        self.consumed: dict[str, str] = {}
        self.asked: list[str] = []

    def verify(self, platform: str, code: str) -> verifiers.Verified | None:
        self.asked.append(code)
        if code not in self.codes or code in self.consumed:
            return None
        face, until = self.codes[code]
        return verifiers.Verified(face, until, f"ref-{code}")

    def consume(self, platform: str, code: str, order_id: str) -> None:
        self.consumed[code] = order_id

    def cancel(self, platform: str, code: str, order_id: str) -> None:
        self.consumed.pop(code, None)


@pytest.fixture
def live(memory):
    clock.freeze(T0)
    platform = Platform()
    verifiers.use(platform)
    yield AppClient(), platform
    verifiers.use(None)
    clock.freeze(None)


def _till():
    return mint_token("staff", "clerk-1", 60, role="clerk", merchant_id="m1", store_id="s1")


def _template(api, terms=LIVE, **settings):
    return api.ok("POST", TPL, {"terms": terms, "stock": 5, "state": "active", "merchant_id": "m1", **settings})


def _stored():
    return [x for x in scan(third_party.CodeItem) if "COUPONTP#" in x.pk]


def _cart(template_id, code="LV12345678", order="o-1", **more):
    return {"code": code, "template_id": template_id, "order_id": order, "order_amount_fen": 9_000, **more}


def test_a_live_codes_first_use_stores_it_pointing_at_its_coupon_and_a_second_use_is_refused_here(live):
    api, platform = live
    tid = _template(api)["template_id"]
    platform.codes["LV12345678"] = (3_000, None)
    member = api.member("13800470001")
    used = api.call("POST", "/v1/coupons/write-offs", _cart(tid, member_id=member), token=_till(), key="w-1")
    assert used[0] == 201, used
    coupon = used[1]["coupon"]
    assert used[1]["saving"]["fen"] == 3_000 and coupon["state"] == "used" and coupon["member_id"] == member
    assert coupon["source"] == "third_party" and platform.consumed == {"LV12345678": "o-1"}
    [code] = _stored()
    assert (code.template_id, code.issuer, code.batch) == (tid, "douyin", "live")
    assert (code.member_id, code.coupon_id) == (member, coupon["coupon_id"])
    assert code.pk == f"COUPONTP#{third_party.digests('default', 'LV12345678')[0][1]}"
    assert api.ok("GET", f"{TPL}/{tid}")["stock"] == {"total": 5, "left": 4, "taken": 1}
    # the platform forgets it consumed the code: the stored code still answers "used", and nothing is taken twice
    platform.consumed.clear()
    asked = len(platform.asked)
    again = api.call("POST", "/v1/coupons/write-offs", _cart(tid, order="o-2"), token=_till(), key="w-2")
    assert again[0] == 409 and again[1]["type"].endswith("coupon-used"), again
    assert len(platform.asked) == asked and platform.consumed == {}
    assert api.ok("GET", f"{TPL}/{tid}")["stock"] == {"total": 5, "left": 4, "taken": 1}


def test_a_code_the_platform_does_not_know_is_a_wrong_code(live):
    api, platform = live
    tid = _template(api)["template_id"]
    platform.codes["LV12345678"] = (3_000, None)
    unknown = api.call("POST", "/v1/coupons/validate", _cart(tid, code="LX99999999"), token=_till())
    assert unknown[0] == 422 and unknown[1]["type"].endswith("coupon-code-rejected"), unknown
    assert platform.asked == ["LX99999999"]
    malformed = api.call("POST", "/v1/coupons/validate", _cart(tid, code="L-1"), token=_till())
    assert malformed[0] == 422 and platform.asked == ["LX99999999"]          # not asked: not a code at all
    long_id = api.call("POST", "/v1/coupons/validate", _cart("T" * 65), token=_till())
    assert long_id[0] == 422 and platform.asked == ["LX99999999"]
    no_template = api.call("POST", "/v1/coupons/validate", _cart(None), token=_till())
    assert no_template[0] == 422 and platform.asked == ["LX99999999"]
    assert not _stored()


def test_a_face_value_other_than_the_templates_is_refused_and_nothing_is_stored(live):
    api, platform = live
    tid = _template(api)["template_id"]
    platform.codes["LV12345678"] = (2_999, None)
    refused = api.call("POST", "/v1/coupons/write-offs", _cart(tid), token=_till(), key="w-1")
    assert refused[0] == 409 and "2999" in refused[1]["detail"] and "3000" in refused[1]["detail"], refused
    assert not _stored() and platform.consumed == {}
    assert api.ok("GET", f"{TPL}/{tid}")["stock"] == {"total": 5, "left": 5, "taken": 0}


def test_the_platforms_end_caps_the_coupons_validity_and_a_later_one_does_not(live):
    api, platform = live
    tid = _template(api)["template_id"]
    platform.codes["LV00000001"] = (3_000, "2026-03-05T00:00:00Z")          # before the template's 30 days
    platform.codes["LV00000002"] = (3_000, "2026-12-31T00:00:00Z")          # after them
    early = api.ok("POST", "/v1/coupons/validate", _cart(tid, code="LV00000001"), token=_till())
    late = api.ok("POST", "/v1/coupons/validate", _cart(tid, code="LV00000002"), token=_till())
    assert clock.parse_iso(early["coupon"]["valid_until"]) == datetime(2026, 3, 5, tzinfo=UTC)
    assert clock.parse_iso(late["coupon"]["valid_until"]) < datetime(2026, 4, 2, tzinfo=UTC)   # 30 program days
    assert early["coupon"]["state"] == "unused" and early["usable"] and early["saving"]["fen"] == 3_000


def test_an_imported_codes_template_is_not_asked_and_a_paused_live_one_takes_no_code(live):
    api, platform = live
    imported = _template(api, {**LIVE, "codes": "imported"}, stock=0)["template_id"]
    platform.codes["LV12345678"] = (3_000, None)
    not_live = api.call("POST", "/v1/coupons/validate", _cart(imported), token=_till())
    assert not_live[0] == 422 and platform.asked == []
    tid = _template(api)["template_id"]
    api.ok("POST", f"{TPL}/{tid}/state", {"state": "paused"})
    paused = api.call("POST", "/v1/coupons/write-offs", _cart(tid), token=_till(), key="w-p")
    assert paused[0] == 409 and paused[1]["type"].endswith("coupon-not-claimable"), paused
    assert platform.asked == [] and not _stored()


def test_a_store_budgets_period_is_the_program_day_its_iso_week_or_its_month(memory):
    """The period a template's budget per store counts in, by the program's day (Shanghai): 00:30 on
    Monday 2 March there is still 1 March in UTC."""
    from chalicelib.coupons.use import period_of
    late = datetime(2026, 3, 1, 16, 30, tzinfo=UTC)
    assert period_of("day", late) == "2026-03-02"
    assert period_of("week", late) == "2026-W10"
    assert period_of("week", datetime(2026, 1, 5, 4, 0, tzinfo=UTC)) == "2026-W02"
    assert period_of("month", datetime(2026, 2, 28, 16, 0, tzinfo=UTC)) == "2026-03"
    assert period_of("month", datetime(2026, 2, 28, 15, 59, tzinfo=UTC)) == "2026-02"
