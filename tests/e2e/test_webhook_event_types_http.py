"""The webhook event catalogue as an operation (``listWebhookEventTypes``), as an integrator calls
it: HQ and a merchant's key with the ``webhooks`` capability read every type a filter may name,
with when it happens and what its data carries; a till's key may not; a filter naming a type the
catalogue lists is accepted, and one it does not list is refused."""

from __future__ import annotations

from chalicelib.webhooks.domain import EVENT_TYPES
from tests.e2e.conftest import fresh_phone
from tests.e2e.test_tenancy_http import A, pos, staff


def test_hq_and_a_webhooks_key_read_the_catalogue_a_till_may_not(api, stack):
    hq = staff(api, stack, A, "super_admin")
    answered = api.call("GET", "/v1/webhooks/event-types", headers=hq)
    assert answered.status_code == 200, answered.text
    types = answered.json()["event_types"]
    assert {t["type"] for t in types} == EVENT_TYPES and len(types) == len(EVENT_TYPES)
    earned = next(t for t in types if t["type"] == "points.earned")
    assert (earned["family"], earned["ledger"]) == ("Points, growth and orders", "points")
    assert "`order_id`" in earned["data"] and earned["description"].startswith("points earned")
    assert "`balance`" in answered.json()["ledger_fields"]["points"]
    key = api.call("POST", f"/v1/merchants/{A[1]}/api-keys", {"capabilities": ["webhooks"]}, headers=hq,
                   key=f"types-key-{fresh_phone()}")
    assert key.status_code == 201, key.text
    integrator = api.call("GET", "/v1/webhooks/event-types", signed_by=key.json())
    assert integrator.status_code == 200 and integrator.json() == answered.json()
    till = api.call("GET", "/v1/webhooks/event-types", signed_by=pos(stack, A))
    assert till.status_code == 403, till.text
    # what it lists is what a subscription's filters may name
    listed = api.call("POST", "/v1/webhooks/subscriptions", {"url": "http://127.0.0.1:9/types",
                                                              "filters": [types[-1]["type"]]},
                      signed_by=key.json(), key=f"types-sub-{fresh_phone()}")
    assert listed.status_code == 201, listed.text
    gone = api.call("DELETE", f"/v1/webhooks/subscriptions/{listed.json()['subscription_id']}", signed_by=key.json(),
                    key=f"types-del-{fresh_phone()}")               # (a program has at most 20)
    assert gone.status_code == 200, gone.text
    unlisted = api.call("POST", "/v1/webhooks/subscriptions", {"url": "http://127.0.0.1:9/types",
                                                                "filters": ["points.earnd"]},
                        signed_by=key.json(), key=f"types-bad-{fresh_phone()}")
    assert unlisted.status_code == 422, unlisted.text
