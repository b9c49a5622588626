"""Two programs in the same tables, through the app: settings, caches, keys and jobs stay apart."""

from datetime import UTC, datetime, timedelta

from chalicelib.db.uow import UnitOfWork
from chalicelib.points import repository as points_repository
from chalicelib.shared import clock
from chalicelib.shared.credentials import mint_token
from tests.integration.conftest import AppClient, seed_merchants

T0 = datetime(2026, 3, 1, 4, 0, tzinfo=UTC)


def program_client(program: str) -> AppClient:
    seed_merchants(program)
    client = AppClient()
    client.token = mint_token("staff", "ops", 60, role="super_admin", merchant_id="m1", program_id=program)
    return client


def test_each_program_has_its_own_rules_members_and_jobs(db):
    clock.freeze(T0)
    one, two = program_client("default"), program_client("p2")
    one.ok("PUT", "/v1/points/rules", {"rules": {"expiry": {"policy": "days", "days": 10}}})
    two.ok("PUT", "/v1/points/rules", {"rules": {"expiry": {"policy": "never"}, "points_per_yuan": "2"}})
    a, b = one.member("13800138301"), two.member("13800138301")          # the same person, twice
    assert a != b
    earned_a = one.ok("POST", f"/v1/members/{a}/points/earn", {"order_id": "o1", "amount_fen": 10_000,
                                                                "merchant_id": "m1"})
    earned_b = two.ok("POST", f"/v1/members/{b}/points/earn", {"order_id": "o1", "amount_fen": 10_000,
                                                                "merchant_id": "m1"})
    assert (earned_a["points"], earned_a["expires_on"]) == (100, "2026-03-11")
    assert (earned_b["points"], earned_b["expires_on"]) == (200, None)
    assert one.call("GET", f"/v1/members/{b}")[0] == 404 and two.call("GET", f"/v1/members/{a}")[0] == 404
    clock.freeze(T0 + timedelta(days=12))
    assert one.run_job("points-expiry")["points_expired"] == 100          # one run serves both programs
    assert points_repository.of(UnitOfWork(program="p2")).account(b, "points").available == 200
    assert points_repository.of(UnitOfWork()).account(a, "points").available == 0
    figures = one.run_job("points-reconcile")
    assert figures["balanced"] and figures["accounts_checked"] >= 2


def test_a_merchant_cannot_take_the_name_of_the_program_as_issuer(api):
    """Found from outside (issue #20): a merchant created as ``program`` issued gift cards that the
    prepaid figures, the issuance counter and the custodian's statement merged with the program's
    own. The names that mean the program are refused; nothing is created."""
    from chalicelib.merchants.service import RESERVED_MERCHANT_IDS
    from chalicelib.stored_value import counters
    assert counters.PROGRAM_ISSUER in RESERVED_MERCHANT_IDS
    status, problem = api.call("POST", "/v1/merchants", {"merchant_id": "program", "name": "P"})
    assert status == 422 and "reserved" in problem["detail"], problem
    assert api.call("POST", "/v1/merchants/program/stores", {"store_id": "s1", "name": "S"})[0] == 404   # none made
