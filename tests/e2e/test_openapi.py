"""The served document matches the routes, and a fuzzer finds no server error."""

import json
import os

import pytest
import schemathesis
from openapi_spec_validator import validate

REQUIRED = {"registerMember", "getMember", "lookupMember", "updateMember", "bindIdentity",
            # issue #12's stored value and gift card operations
            "topUpStoredValue", "payWithStoredValue", "holdStoredValue", "confirmStoredValueHold",
            "cancelStoredValueHold", "refundStoredValuePayment", "cashOutStoredValue", "getStoredValueAccount",
            "listStoredValueLedger", "putTopUpBonusRules", "getTopUpBonusRules", "createGiftCardBatch",
            "getGiftCardBatch", "sellGiftCards", "activateGiftCard", "redeemGiftCard", "payWithGiftCard",
            "voidGiftCard", "getStoredValueReconciliation", "getStoredValueLiability",
            "refundGiftCardPayment"}


def test_document_is_valid_and_matches_the_route_table(api, stack):
    doc = api.call("GET", "/openapi.json").json()
    validate(doc)
    documented = {(path, method.upper()) for path, ops in doc["paths"].items() for method in ops}
    routed = {(path, method) for path, methods in stack.app_module.app.routes.items() for method in methods
              if method != "OPTIONS"}     # every path's preflight (chalicelib/api/cors.py), not an operation
    assert documented == routed
    assert all("OPTIONS" in methods for methods in stack.app_module.app.routes.values())
    ids = [op["operationId"] for ops in doc["paths"].values() for op in ops.values()]
    assert len(ids) == len(set(ids)) and set(ids) >= REQUIRED


# Examples per operation: ten keep make test's end-to-end tier near 7 minutes on 2 cores (25 took
# 134 s of it alone); FUZZ_EXAMPLES=100 make test-e2e fuzzes deeper.
FUZZ_EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "10"))


@pytest.mark.timeout(900)
def test_fuzzing_the_api_finds_no_5xx(api, stack):
    schema = schemathesis.openapi.from_url(api.url + "/openapi.json")
    # As the second program's head office: the fuzz puts random rules (a 1,224 fen balance cap...)
    # in force, and in the default program they outlived the test and refused later tests' top-ups.
    token = stack.credentials["programs"]["demo-2"]["staff_tokens"]["super_admin"]
    failures = []
    statuses = []
    for result in schema.get_all_operations():
        operation = result.ok()
        strategy = operation.as_strategy()
        from hypothesis import HealthCheck, given, settings

        @settings(max_examples=FUZZ_EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck), database=None)
        @given(case=strategy)
        def run(case):
            response = case.call(headers={"Authorization": f"Bearer {token}"})
            statuses.append(response.status_code)
            if response.status_code >= 500:
                failures.append((operation.label, response.status_code, response.text[:300]))

        run()
    assert failures == []
    assert len(statuses) >= 100                       # it really ran
    assert any(200 <= s < 300 for s in statuses)      # and got past validation somewhere


def test_every_figure_of_the_points_replies_is_documented(api, stack):
    """Real replies validate against the served response schemas, which forbid undocumented fields
    and describe every figure."""
    import jsonschema

    from tests.e2e.conftest import fresh_phone
    doc = api.call("GET", "/openapi.json").json()

    def check(response, operation_id):
        op = next(o for ops in doc["paths"].values() for o in ops.values() if o["operationId"] == operation_id)
        ref = op["responses"][str(response.status_code)]["content"]["application/json"]["schema"]["$ref"]
        jsonschema.validate(response.json(), {"$ref": ref, "components": doc["components"]})
        model = doc["components"]["schemas"][ref.rsplit("/", 1)[1]]
        assert model["additionalProperties"] is False
        undocumented = [name for name, prop in model["properties"].items()
                        if "description" not in prop and name not in ("member_id", "order_id", "hold_id",
                                                                       "refund_id", "posting_id", "lot_id",
                                                                       "merchant_id", "store_id", "earned_at",
                                                                       "points", "orders")]
        assert undocumented == [], (operation_id, undocumented)

    # the fuzzer may have saved odd rules: this test states the defaults it computes with
    assert api.call("PUT", "/v1/points/rules", {"rules": {}}, headers=api.staff(), key=fresh_phone()).status_code == 201
    mid = api.call("POST", "/v1/members", {"phone": fresh_phone()}, pos=True, key=fresh_phone()).json()["member_id"]
    order = f"{mid}-doc"
    call = lambda *a, **k: api.call(*a, pos=True, key=fresh_phone(), **k)  # noqa: E731
    check(call("POST", f"/v1/members/{mid}/points/earn", {"order_id": order, "amount_fen": 30_000}), "earnPoints")
    check(call("POST", f"/v1/members/{mid}/points/redeem", {"points": 50, "order_id": f"{mid}-spend",
                                                            "order_amount_fen": 10_000}), "redeemPoints")
    hold = call("POST", f"/v1/members/{mid}/points/holds", {"points": 10})
    check(hold, "holdPoints")
    check(call("POST", f"/v1/members/{mid}/points/holds/{hold.json()['hold_id']}/cancel", {}), "cancelPointsHold")
    refund = call("POST", f"/v1/orders/{order}/refunds", {"refund_id": "doc", "amount_fen": 10_000})
    check(refund, "refundOrder")
    check(api.call("GET", f"/v1/members/{mid}/points", pos=True), "getPointsAccount")
    check(api.call("GET", f"/v1/orders/{order}", pos=True), "getOrder")
    check(api.call("GET", f"/v1/members/{mid}/orders", pos=True), "listOrders")


def _strictness_gaps(schema, components, seen, where):
    """Object schemas under ``schema`` that would let an undocumented field through."""
    if isinstance(schema, dict):
        if "$ref" in schema:
            name = schema["$ref"].rsplit("/", 1)[1]
            if name not in seen:
                seen.add(name)
                yield from _strictness_gaps(components[name], components, seen, name)
        if "properties" in schema and schema.get("additionalProperties") is not False:
            yield where
        for value in schema.values():
            yield from _strictness_gaps(value, components, seen, where)
    elif isinstance(schema, list):
        for value in schema:
            yield from _strictness_gaps(value, components, seen, where)


@pytest.mark.every_shard
def test_every_reply_of_the_suite_matches_the_document(api):
    """Runs last (tests/e2e/conftest.py): every reply the API gave during the whole end-to-end
    suite, success or problem, validates against its operation's documented reply for that
    status; a success body has no field the document does not describe; and every operation was
    driven to a success somewhere in the suite (in a run split by ``TEST_SHARD``, each shard
    checks its own replies and records its successes, and ``tests/e2e/seen.py`` the union)."""
    import jsonschema

    from tests.e2e.conftest import REPLIES
    doc = api.call("GET", "/openapi.json").json()
    operations = {o["operationId"]: o for ops in doc["paths"].values() for o in ops.values()}
    components = doc["components"]["schemas"]
    failures, checked = [], set()
    for operation_id, status, kind, body in REPLIES:
        declared = operations[operation_id]["responses"].get(str(status))
        if declared is None:
            failures.append((operation_id, status, "status not documented", body[:200]))
            continue
        content = declared.get("content", {})
        if kind not in content:
            failures.append((operation_id, status, f"{kind or 'no body'} not documented", body[:200]))
            continue
        schema = content[kind]["schema"]
        if kind.endswith("json"):
            errors = list(jsonschema.Draft202012Validator({**schema, "components": doc["components"]})
                          .iter_errors(json.loads(body)))
            if errors:
                failures.append((operation_id, status, errors[0].message[:300], body[:200]))
        if 200 <= status < 300:
            checked.add(operation_id)
    assert failures == [], failures[:10]
    assert len({r[0] for r in REPLIES}) >= 60, "this test checks the replies of the whole end-to-end suite"
    loose = {(i, gap) for i, o in operations.items() for code, r in o["responses"].items() if code.startswith("2")
             for c in r.get("content", {}).values() for gap in _strictness_gaps(c["schema"], components, set(), i)}
    assert loose == set()
    if os.environ.get("TEST_SHARD"):
        from tests.e2e import seen
        seen.record(os.environ["TEST_SHARD"], sorted(operations), sorted(checked))
    else:
        assert sorted(set(operations) - checked) == []    # every operation's success reply was seen and checked
