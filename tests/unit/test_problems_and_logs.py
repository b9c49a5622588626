import io
import logging

from chalicelib.api.idempotency import fingerprint
from chalicelib.shared.errors import IdentityTaken, Problem
from chalicelib.shared.observability import logger, redact


def test_problem_body_is_rfc9457():
    body = IdentityTaken("phone 138****0000 taken", conflicts=[{"type": "phone"}]).body("/v1/members")
    assert body["type"].endswith("/identity-taken") and body["status"] == 409
    assert body["title"] and body["detail"] and body["instance"] == "/v1/members"
    assert body["conflicts"] == [{"type": "phone"}]
    assert Problem("x").status == 400


def test_fingerprint_ignores_key_order_but_not_values():
    assert fingerprint("post", "/a", {"x": 1, "y": 2}) == fingerprint("POST", "/a", {"y": 2, "x": 1})
    assert fingerprint("POST", "/a", {"x": 1}) != fingerprint("POST", "/a", {"x": 2})
    assert fingerprint("POST", "/a", {"x": 1}) != fingerprint("POST", "/b", {"x": 1})


def test_redaction_masks_phone_numbers():
    assert redact("call 13800138821 now") == "call 138****8821 now"
    assert redact("e164 +8613800138821") == "e164 138****8821"
    assert "+85261234567" not in redact("hk +85261234567")


def test_the_logger_never_writes_a_raw_phone():
    buffer = io.StringIO()
    handler = logger.registered_handler
    previous = handler.setStream(buffer)
    try:
        logger.setLevel(logging.INFO)
        logger.info("member 13800138821 registered")
        logger.info("args too: %s", "+8613800138821")
    finally:
        handler.setStream(previous)
    out = buffer.getvalue()
    assert "13800138821" not in out and "138****8821" in out
