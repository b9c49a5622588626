"""The document a generated client is built from: every operation's success described, no two
models published under one name."""

from __future__ import annotations

import pytest
from pydantic import BaseModel

import app  # noqa: F401  (registers every operation)
from chalicelib.api import openapi
from chalicelib.api.operation import REGISTRY, Operation


def test_every_success_of_every_operation_has_a_schema():
    doc = openapi.document()
    bare = [(o["operationId"], code) for ops in doc["paths"].values() for o in ops.values()
            for code, reply in o["responses"].items() if code.startswith("2")
            and not any("schema" in c for c in reply.get("content", {}).values())]
    assert bare == []
    assert sum(len(ops) for ops in doc["paths"].values()) == len(REGISTRY) >= 95


def test_every_reply_model_forbids_undocumented_fields_and_describes_itself():
    doc = openapi.document()
    replies = {r["content"]["application/json"]["schema"]["$ref"].rsplit("/", 1)[1]
               for ops in doc["paths"].values() for o in ops.values() for code, r in o["responses"].items()
               if code.startswith("2") and "application/json" in r.get("content", {})}
    schemas = doc["components"]["schemas"]
    loose = sorted(n for n in replies if "properties" in schemas[n] and schemas[n].get("additionalProperties") is not False)
    assert loose == []
    undescribed = sorted(n for n in replies if not schemas[n].get("description"))
    assert undescribed == []


def test_a_reply_that_is_one_of_several_models_declares_each_and_closes_each():
    """A reply of either shape (getGiftCardReconciliation: a batch's or every batch's) names each
    shape by reference, each with its fields and no others, so a generated client types it."""
    doc = openapi.document()
    schemas = doc["components"]["schemas"]
    replies = {r["content"]["application/json"]["schema"]["$ref"].rsplit("/", 1)[1]
               for ops in doc["paths"].values() for o in ops.values() for code, r in o["responses"].items()
               if code.startswith("2") and "application/json" in r.get("content", {})}
    unions = {n: [b["$ref"].rsplit("/", 1)[1] for b in schemas[n]["anyOf"]] for n in replies if "anyOf" in schemas[n]}
    assert unions["GiftCardReconciliationOut"] == ["GiftCardBatchReconciliation", "GiftCardReconciliationTotal"]
    for shapes in unions.values():
        for shape in shapes:
            assert schemas[shape]["properties"] and schemas[shape]["additionalProperties"] is False, shape
            assert schemas[shape].get("description"), shape
    total = schemas["GiftCardReconciliationTotal"]["properties"]
    assert {"cards_checked", "cards_mismatched", "whole", "balanced", "issuers", "figures_agree", "progress"} <= set(total)
    without_fields = sorted(n for n in replies if "properties" not in schemas[n] and "anyOf" not in schemas[n]
                            and schemas[n].get("type") == "object")
    assert without_fields == []


def test_two_models_with_one_name_fail_the_document():
    first = type("Twin", (BaseModel,), {"__annotations__": {"a": int}})
    second = type("Twin", (BaseModel,), {"__annotations__": {"b": str}})
    for model, op_id in ((first, "twinOne"), (second, "twinTwo")):
        REGISTRY.append(Operation(op_id, "GET", f"/v1/{op_id}", "a twin", (), response=model))
    try:
        with pytest.raises(openapi.DuplicateComponent, match="Twin"):
            openapi.document()
    finally:
        del REGISTRY[-2:]
    openapi.document()                     # and the real document is unaffected


def test_the_signature_and_the_member_alias_are_described():
    doc = openapi.document()
    scheme = doc["components"]["securitySchemes"]["merchantSignature"]["description"]
    assert all(h in scheme for h in ("X-Api-Key", "X-Timestamp", "X-Nonce", "X-Signature", "canonical"))
    member_path = doc["paths"]["/v1/members/{member_id}/points"]["get"]["parameters"]
    assert "`me`" in next(p for p in member_path if p["name"] == "member_id")["description"]
    lookup = next(p for p in doc["paths"]["/v1/members/lookup"]["get"]["parameters"] if p["name"] == "type")
    assert set(lookup["schema"]["enum"]) == {"wechat_openid", "wechat_unionid", "alipay_user_id", "card_no"}
    earn = doc["paths"]["/v1/members/{member_id}/points/earn"]["post"]["responses"]
    assert "Retry-After" in earn["503"]["headers"]


def _ops() -> dict[str, dict]:
    return {o["operationId"]: o for ops in openapi.document()["paths"].values() for o in ops.values()}


def test_every_operation_with_a_body_documents_415_and_every_write_takes_an_idempotency_key():
    from chalicelib import jobs
    ops = _ops()
    with_body = [i for i, o in ops.items() if "requestBody" in o]
    assert with_body and all("415" in ops[i]["responses"] for i in with_body)
    assert all("415" not in o["responses"] for o in ops.values() if "requestBody" not in o)
    unkeyed = sorted(i for i, o in ops.items() if "requestBody" in o
                     and not any(p["name"] == "Idempotency-Key" for p in o["parameters"]))
    # lookups that are reads (a member, a coupon's code against a cart, a cart's member prices, the earn
    # rules' dry run, a gift card's balance with its secret), token operations (a fresh token each time, never stored), and jobs,
    # which are idempotent by day; createApiKey is keyed (its record keeps no secret); a staff
    # member's own password change and TOTP enrolment answer tokens and secrets (a retry of a
    # change that went through is refused: the current password changed)
    assert unkeyed == ["changeStaffPassword", "checkGiftCardBalance", "enrollStaffTotp", "findMember", "issueMemberToken", "loginStaff",
                       "previewEarn", "priceCart", "refreshMemberToken", "refreshStaffToken", "revokeMemberToken", "runJob",
                       "setStaffPassword", "validateCoupon"]
    job = next(p for p in ops["runJob"]["parameters"] if p["name"] == "job")
    assert job["schema"]["enum"] == sorted(jobs.registered()) and "gift-card-batches" in job["schema"]["enum"]


def test_a_members_overview_is_tagged_with_members():
    assert _ops()["getMemberOverview"]["tags"] == ["members"]


def test_every_operation_declares_the_503_of_a_throttled_database_with_retry_after():
    # a read is throttled as a write is (#24 item 4): every operation may answer 503 over-capacity
    ops = _ops()
    undeclared = sorted(i for i, o in ops.items() if "Retry-After" not in o["responses"].get("503", {}).get("headers", {}))
    assert undeclared == []
    assert "over-capacity" in ops["getPointsAccount"]["responses"]["503"]["description"]


def test_the_points_rules_document_the_defaults_the_server_saves():
    """Finding 2: a rules version without `expiry` is saved as year_end; the document says so (a
    client reading only the Expiry schema would take `never`). Every default the document states
    for the rules is the one the server applies, and a nested rule whose default is not its
    schema's own states it."""
    from chalicelib.points.rules import ProgramRules
    schema = openapi.document()["components"]["schemas"]["ProgramRules"]["properties"]
    saved = ProgramRules().model_dump(mode="json")
    assert saved["expiry"]["policy"] == "year_end"
    assert schema["expiry"]["default"] == saved["expiry"]
    stated = {name: field["default"] for name, field in schema.items() if "default" in field}
    assert stated == {name: saved[name] for name in stated}
    models = {name: f.annotation for name, f in ProgramRules.model_fields.items()
              if isinstance(f.annotation, type) and issubclass(f.annotation, BaseModel)}
    unlike_their_schema = sorted(name for name, model in models.items()
                                 if saved[name] != model().model_dump(mode="json") and "default" not in schema[name])
    assert unlike_their_schema == []
