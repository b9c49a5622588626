"""Configuration that names other configuration (issue #20 items 4 and 15): a task's reward tier,
a benefit rule's tiers and plans, the points rules' tier multipliers are checked against the
ladder and plans in force when saved (and any saved for later); a ladder or plans version that
would drop a name in use is refused. And a fuzz of every configuration PUT: non-finite decimals,
negatives, names that do not exist: never a 5xx, and a refused body saves nothing."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chalicelib.db import versioned
from chalicelib.shared import clock
from tests.integration.conftest import AppClient

T0 = datetime(2026, 3, 1, 4, 0, tzinfo=UTC)
LADDER = {"tiers": [{"code": "V1", "name": "普通", "threshold": 0},
                    {"code": "V2", "name": "白银", "threshold": 1_000, "validity_months": 12, "retain": 500},
                    {"code": "V3", "name": "黄金", "threshold": 5_000, "validity_months": 12, "retain": 3_000}]}
PLANS = {"plans": [{"code": "PLUS-Y", "name": "PLUS 年卡", "period": "year", "price_fen": 12_800, "trial_days": 7}],
         "refund_policy": "prorated"}
BENEFITS = {"rules": [{"id": "gold", "name": "黄金", "when": {"min_tier": "V3"},
                       "give": [{"kind": "points_multiplier", "multiplier": "1.5"}]},
                      {"id": "silver", "name": "白银", "when": {"tiers": ["V2"], "plans": ["PLUS-Y"]},
                       "give": [{"kind": "discount_percent", "percent": 5}]}]}
TASKS = {"tasks": [{"id": "refer", "name": "邀请", "kind": "referrals", "target": 2,
                    "reward": {"tier": "V3", "validity_months": 3}},
                   {"id": "spend", "name": "消费", "kind": "spend", "target": 100_000, "period": "month",
                    "reward": {"growth": 100}},
                   {"id": "posters", "name": "分享", "kind": "event", "event": "share_poster", "target": 2,
                    "reward": {"points": 10}}]}
POINTS = {"points_per_yuan": "1", "steps": [{"min_amount_fen": 10_000, "multiplier": "1.5"}],
          "tier_multipliers": {"V2": "1.2"}, "caps": {"per_order": 1_000},
          "behaviors": {"check_in": {"points": 5, "streak_bonus": {"7": 20}}, "referral": {"points": 10}},
          "custom_events": {"share_poster": {"points": 1}}}
STORED = {"bonus_rules": [{"id": "b200", "name": "储值200送30", "kind": "fixed", "min_fen": 20_000, "bonus_fen": 3_000}],
          "balance_cap_fen": 500_000, "issuance_limits_fen": {"program": 10**8}}
CONFIGS = {"/v1/tiers/ladder": ("ladder", LADDER), "/v1/memberships/plans": ("plans", PLANS),   # providers first
           "/v1/points/rules": ("rules", POINTS), "/v1/benefits/rules": ("rules", BENEFITS),
           "/v1/tasks": ("tasks", TASKS), "/v1/stored-value/rules": ("rules", STORED)}


@pytest.fixture
def configured(api):
    clock.freeze(T0)
    for path, (field, body) in CONFIGS.items():
        api.ok("PUT", path, {field: body})
    return api


def version(api, path) -> int:
    return api.ok("GET", path)["version"]


@pytest.mark.parametrize(("path", "change"), [
    ("/v1/tasks", lambda b: b["tasks"][0]["reward"].update(tier="V9")),
    ("/v1/benefits/rules", lambda b: b["rules"][0]["when"].update(min_tier="V9")),
    ("/v1/benefits/rules", lambda b: b["rules"][1]["when"].update(tiers=["V2", "V9"])),
    ("/v1/benefits/rules", lambda b: b["rules"][1]["when"].update(plans=["PLUS-X"])),
    ("/v1/points/rules", lambda b: b["tier_multipliers"].update(V9="2")),
    ("/v1/tiers/ladder", lambda b: b["tiers"].pop()),                          # V3: rewarded, a condition
    ("/v1/tiers/ladder", lambda b: b["tiers"][1].update(code="S2")),           # V2 renamed: multiplied, a condition
    ("/v1/memberships/plans", lambda b: b["plans"][0].update(code="PLUS-Z")),   # a condition names PLUS-Y
    ("/v1/tasks", lambda b: b["tasks"][2].update(event="share_video")),        # no rule rewards that event
    ("/v1/points/rules", lambda b: b.pop("custom_events")),                   # an event task counts it
    ("/v1/points/rules", lambda b: b["behaviors"].pop("referral")),           # a referral task counts it
])
def test_a_reference_to_nothing_is_refused_and_saves_nothing(configured, path, change):
    api = configured
    field, base = CONFIGS[path]
    body = copy.deepcopy(base)
    change(body)
    before = {p: version(api, p) for p in CONFIGS}
    status, problem = api.call("PUT", path, {field: body})
    assert status == 422 and problem["type"].endswith("/validation-failed"), problem
    assert any(name in problem["detail"] for name in ("V9", "V3", "V2", "PLUS", "share_", "referral"))
    assert {p: version(api, p) for p in CONFIGS} == before


@pytest.mark.parametrize(("path", "change", "fields"), [
    ("/v1/tasks", lambda b: b["tasks"][0]["reward"].update(tier="V9"), {"tasks.tasks.0.reward.tier"}),
    ("/v1/tasks", lambda b: b["tasks"][2].update(event="share_video"), {"tasks.tasks.2.event"}),
    ("/v1/benefits/rules", lambda b: b["rules"][1]["when"].update(tiers=["V2", "V9"], plans=["PLUS-X"]),
     {"rules.rules.1.when.tiers", "rules.rules.1.when.plans"}),
    ("/v1/benefits/rules", lambda b: b["rules"][0]["give"].append({"kind": "price_list", "ref": "nope"}),
     {"rules.rules.0.give.1.ref"}),
    ("/v1/points/rules", lambda b: b["tier_multipliers"].update(V9="2"), {"rules.tier_multipliers.V9"}),
    ("/v1/tiers/ladder", lambda b: b["tiers"].pop(), {"ladder"}),                # dropped: no place in the body
    ("/v1/stored-value/rules", lambda b: b["issuance_limits_fen"].update(nobody=1), {"rules"}),
])
def test_a_refusal_names_each_place_as_the_request_s_field_path(configured, path, change, fields):
    """What a configuration names that does not exist is in the problem's errors[] at its path in
    the request, as a request's own 422 names a field (a console shows it beside its row); what a
    provider drops, or a record that does not exist, under the body's own field."""
    field, base = CONFIGS[path]
    body = copy.deepcopy(base)
    change(body)
    status, problem = configured.call("PUT", path, {field: body})
    assert status == 422, problem
    assert {e["field"] for e in problem["errors"]} == fields, problem
    assert all(e["message"] and e["message"] in problem["detail"] for e in problem["errors"])


def test_a_later_version_is_checked_too(configured):
    """A ladder saved for next month without V3, while tasks reward V3: refused; and tasks saved
    now naming a tier that only a saved future ladder lacks: refused."""
    api = configured
    without = {"tiers": LADDER["tiers"][:2]}
    status, problem = api.call("PUT", "/v1/tiers/ladder", {"ladder": without, "effective_from": "2026-04-01T00:00:00Z"})
    assert status == 422 and "tasks" in problem["detail"]
    # once nothing names V3 any more, the ladder can drop it
    api.ok("PUT", "/v1/tasks", {"tasks": {"tasks": TASKS["tasks"][1:]}})
    api.ok("PUT", "/v1/benefits/rules", {"rules": {"rules": BENEFITS["rules"][1:]}})
    api.ok("PUT", "/v1/tiers/ladder", {"ladder": without, "effective_from": "2026-04-01T00:00:00Z"})
    assert api.call("PUT", "/v1/tasks", {"tasks": TASKS})[0] == 422     # V3 leaves the ladder next month
    assert api.ok("GET", "/v1/tasks")["tasks"]["tasks"][0]["id"] == "spend"


def test_two_saves_racing_cannot_both_pass_the_check(configured):
    """Tasks newly naming V2 and a ladder dropping V2, each checked before the other commits:
    the second to commit is refused (retry: it then sees the first)."""
    from chalicelib.db.uow import UnitOfWork
    from chalicelib.shared.errors import ConcurrentUpdate
    from chalicelib.shared.principal import Principal
    from chalicelib.tasks.config import TASKS as TASKS_CONFIG
    from chalicelib.tasks.config import TaskSet
    from chalicelib.tiers.ladder import LADDER as LADDER_CONFIG
    from chalicelib.tiers.ladder import Ladder
    by = Principal("staff", "ops", "super_admin")
    tasks = copy.deepcopy(TASKS)
    tasks["tasks"][0]["reward"]["tier"] = "V2"
    ladder = {"tiers": [LADDER["tiers"][0], {**LADDER["tiers"][2], "code": "V3"}]}
    configured.ok("PUT", "/v1/benefits/rules", {"rules": {"rules": []}})     # only the tasks name tiers now
    configured.ok("PUT", "/v1/points/rules", {"rules": {**POINTS, "tier_multipliers": {}}})
    first, second = UnitOfWork(by.ref), UnitOfWork(by.ref)
    TASKS_CONFIG.put(first, TaskSet.model_validate(tasks), None, by)
    LADDER_CONFIG.put(second, Ladder.model_validate(ladder), None, by)
    second.commit()
    with pytest.raises(ConcurrentUpdate):
        first.commit()
    assert configured.ok("GET", "/v1/tasks")["tasks"]["tasks"][0]["reward"]["tier"] == "V3"
    assert [t["code"] for t in configured.ok("GET", "/v1/tiers/ladder")["ladder"]["tiers"]] == ["V1", "V3"]


@pytest.mark.parametrize("bad", ["NaN", "sNaN", "-NaN", "Infinity", "-Infinity", "inf", "1e", "", "1.5x",
                                 "1_0", "2_0", "1e1", "+2", ".5", "２"])    # Decimal reads these; stored as sent
def test_a_multiplier_that_is_not_a_finite_number_is_a_422(configured, bad):
    api = configured
    body = copy.deepcopy(BENEFITS)
    body["rules"][0]["give"][0]["multiplier"] = bad
    status, problem = api.call("PUT", "/v1/benefits/rules", {"rules": body})
    assert status == 422, problem
    points = {**POINTS, "tier_multipliers": {"V2": bad}}
    assert api.call("PUT", "/v1/points/rules", {"rules": points})[0] == 422
    assert version(api, "/v1/benefits/rules") == version(api, "/v1/points/rules") == 1


@pytest.mark.parametrize("streak", [{"7": -20}, {"-1": 5}, {"0": 5}])
def test_a_negative_streak_bonus_is_refused(configured, streak):
    """Found by the fuzz's class: points rules took a negative check-in streak bonus."""
    points = {**POINTS, "behaviors": {**POINTS["behaviors"], "check_in": {"points": 5, "streak_bonus": streak}}}
    status, problem = configured.call("PUT", "/v1/points/rules", {"rules": points})
    assert status == 422 and "streak" in problem["detail"], problem
    assert version(configured, "/v1/points/rules") == 1


# --- the fuzz ------------------------------------------------------------------------------------

def leaves(body, path=()):
    """Every (path, value) of the JSON body's scalars."""
    if isinstance(body, dict):
        for k, v in body.items():
            yield from leaves(v, (*path, k))
    elif isinstance(body, list):
        for i, v in enumerate(body):
            yield from leaves(v, (*path, i))
    else:
        yield path, body


def replaced(body, path, value):
    out = copy.deepcopy(body)
    node = out
    for step in path[:-1]:
        node = node[step]
    node[path[-1]] = value
    return out


NON_FINITE = ["NaN", "sNaN", "-NaN", "Infinity", "-Infinity", "1e999999999", "-0.5", "1E+9999"]
NUMBERS = [-1, -10**12, 10**30, 1.5, float("1e308"), True]
REFS = ["V9", "PLUS-X"]
REF_FIELDS = ("tier", "min_tier", "tiers", "plans", "tier_multipliers", "event")


@pytest.fixture(scope="module")
def fuzzed():
    """One app on the in-memory store for the whole fuzz (fast; the rules are the same on moto)."""
    from chalicelib.db import backend
    from chalicelib.db.memory import MemoryBackend
    from chalicelib.shared import storage
    from tests.integration.conftest import seed_merchants
    backend.reset()
    previous = backend.use(MemoryBackend())
    storage.use(storage.MemoryStorage())
    seed_merchants()
    clock.freeze(T0)
    api = AppClient()
    for path, (field, body) in CONFIGS.items():
        api.ok("PUT", path, {field: body})
    yield api
    clock.freeze(None)
    storage.use(None)
    backend.use(previous)


@settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
@given(data=st.data())
def test_every_configuration_put_refuses_bad_values_without_a_5xx(fuzzed, data):
    api = fuzzed
    path = data.draw(st.sampled_from(sorted(CONFIGS)))
    field, base = CONFIGS[path]
    where, old = data.draw(st.sampled_from(list(leaves(base))))
    if isinstance(old, str) and any(c.isdigit() for c in old) and where[-1] != "id":
        new = data.draw(st.sampled_from(NON_FINITE + REFS))
    elif isinstance(old, int) and not isinstance(old, bool):
        new = data.draw(st.sampled_from(NUMBERS + NON_FINITE))
    else:
        new = data.draw(st.sampled_from(REFS + NON_FINITE + [None, -1]))
    body = replaced(base, where, new)
    before = {p: version(api, p) for p in CONFIGS}
    status, reply = api.call("PUT", path, {field: body})
    assert status < 500, (path, where, new, reply)
    if status != 201:
        assert status in (400, 422), (path, where, new, reply)
        assert {p: version(api, p) for p in CONFIGS} == before, (path, where, new)
        return
    # saved: then it was a fine value; never a non-finite decimal, a negative amount or a name of nothing
    label = (path, where, new)
    assert new not in NON_FINITE[:5] or not (isinstance(old, str) and old[:1].isdigit()), label
    assert not (isinstance(new, int | float) and not isinstance(new, bool) and new < 0), label
    refers = path not in ("/v1/tiers/ladder", "/v1/memberships/plans") and any(f in where for f in REF_FIELDS)
    assert not (new in REFS and refers), label
    api.ok("PUT", path, {field: base})                                   # back to the base for the next draw


def test_every_kind_referred_to_has_a_provider_once_the_app_is_imported():
    import app  # noqa: F401  (imports every configuration the API serves)
    from chalicelib.db import versioned
    versioned._DECLARING.load()
    assert set(versioned._CONSUMERS) <= set(versioned._PROVIDERS) == {"tier", "plan", "behavior", "custom event",
                                                                         "coupon_pack", "price_list"}
    assert {c.name for users in versioned._CONSUMERS.values() for c, _ in users} == {
        "tasks", "benefit-rules", "points-rules", "stored-value-rules"}


def test_a_cold_process_checks_a_save_against_every_configuration_naming_others():
    """A cold Lambda imports its operation's modules only: a task's save must still find the points
    rules (custom events), a ladder's the tasks using its tiers. The app names every module that
    declares a configuration with ``provides`` or ``refers`` and a save imports them all first
    (putTasks on a fresh server answered 500, "no configuration provides custom event")."""
    import subprocess
    import sys
    from pathlib import Path
    root = Path(__file__).resolve().parents[2]
    probe = ("import json, app\n"
             "from chalicelib.db import versioned\n"
             "cold = sorted(versioned._PROVIDERS)\n"
             "versioned._DECLARING.load()\n"
             "print(json.dumps([cold, sorted(versioned._PROVIDERS),\n"
             "                  sorted(c.name for u in versioned._CONSUMERS.values() for c, _ in u)]))")
    out = subprocess.run([sys.executable, "-c", probe], cwd=root, capture_output=True, text=True, check=True,
                         env={"AWS_DEFAULT_REGION": "cn-north-1", "PATH": "/usr/bin:/bin"}).stdout.strip().splitlines()[-1]
    cold, warm, consumers = json.loads(out)
    assert "custom event" not in cold                          # the laziness the app keeps for its cold start
    assert warm == ["behavior", "coupon_pack", "custom event", "plan", "price_list", "tier"]
    assert set(consumers) == {"tasks", "benefit-rules", "points-rules", "stored-value-rules"}
    declaring = {".".join(p.relative_to(root).with_suffix("").parts) for p in (root / "chalicelib").rglob("*.py")
                 if "VersionedConfig(" in (text := p.read_text()) and ("refers=" in text or "provides=" in text)}
    assert declaring - {"chalicelib.db.versioned"} <= set(versioned._DECLARING._names)


@pytest.mark.parametrize("change", [
    {"points_per_yuan": "1", "redeem": {"points_per_yuan": 10**30}},
    {"points_per_yuan": "1", "inflation_threshold_percent": 10**12},
    {"points_per_yuan": "1", "steps": [{"min_amount_fen": 10**30, "multiplier": "2"}]},
    {"points_per_yuan": "1", "caps": {"per_day": 10**30}},
    {"points_per_yuan": "1", "behaviors": {"check_in": {"points": 5, "per_day": 10**9}}},
])
def test_absurd_numbers_in_the_points_rules_are_refused_and_save_nothing(fuzzed, change):
    """Same class as item 15, found by the stored value engineer: numbers without an upper bound."""
    before = version(fuzzed, "/v1/points/rules")
    status, reply = fuzzed.call("PUT", "/v1/points/rules", {"rules": change})
    assert status == 422, reply
    assert "less than or equal" in str(reply), reply                # refused for the number, not the shape
    assert version(fuzzed, "/v1/points/rules") == before
