"""#25 webhooks, the rules that need no AWS: filters, the event catalogue against the code that
emits events, the retry schedule, the URL and address checks (SSRF), the sender's refusal, and
the signing secrets (sealed, unsealed, Standard Webhooks signatures during a rotation)."""

from __future__ import annotations

import base64
import random
import re
import socket
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography.exceptions import InvalidTag
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from chalicelib.shared import clock, secrets
from chalicelib.shared.config import settings
from chalicelib.shared.errors import ValidationProblem
from chalicelib.webhooks import domain, sender, signing

ROOT = Path(__file__).resolve().parents[2]
SQS_LONGEST_VISIBILITY = 43_200
LAMBDA_LONGEST_RUN = 900


@pytest.fixture
def stage(monkeypatch):
    """``stage("prod")``: the settings of that stage until the test ends."""
    def on(name: str) -> None:
        monkeypatch.setenv("STAGE", name)
        settings.cache_clear()
    yield on
    monkeypatch.undo()
    settings.cache_clear()


def _resolving(monkeypatch, *addresses: str) -> list[tuple[str, int]]:
    """Every host resolves to ``addresses``; the (host, port) asked for are kept."""
    asked: list[tuple[str, int]] = []

    def getaddrinfo(host, port, *args, **kwargs):
        asked.append((host, port))
        return [(socket.AF_INET6 if ":" in a else socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP, "",
                 (a, port, 0, 0) if ":" in a else (a, port)) for a in addresses]
    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    return asked


# --- filters -------------------------------------------------------------------------------------

def test_filters_match_every_type_a_family_or_one_type():
    assert domain.matches(["*"], "points.earned") and domain.matches(["*"], "webhook.test")
    assert domain.matches(["points.*"], "points.earned") and domain.matches(["points.*"], "points.hold_released")
    assert not domain.matches(["points.*"], "order.earned") and not domain.matches(["points.*"], "pointsx.earned")
    assert domain.matches(["order.earned"], "order.earned") and not domain.matches(["order.earned"], "order.refunded")
    assert domain.matches(["order.earned", "tier.*"], "tier.upgraded")
    assert not domain.matches(["Points.*"], "points.earned")          # types are lower case, matched exactly
    assert all(domain.check_filters([f]) == [f] for f in ("*", "points.*", "order.earned", "*.expired"))


@pytest.mark.parametrize("filters", [["pointz.*"], ["points.earnd"], ["*", "nothing.here"], [],
                                     [f"points.{n}" for n in range(21)], ["points.*"] * 21])
def test_a_filter_matching_nothing_no_filter_or_too_many_are_refused(filters):
    with pytest.raises(ValidationProblem) as refused:
        domain.check_filters(filters)
    assert refused.value.status == 422 and refused.value.type.endswith("/validation-failed")


def test_duplicate_filters_collapse_in_order():
    assert domain.check_filters(["points.*", "order.earned", "points.*", "*", "order.earned"]) == \
        ["points.*", "order.earned", "*"]
    assert domain.check_filters(["points.*"] * 20) == ["points.*"]


# --- the event catalogue -----------------------------------------------------------------------

TYPE = r"([a-z_]+\.[a-z_]+)"
LITERAL_FORMS = (
    re.compile(r"DomainEvent\(\s*\"" + TYPE + "\""),                        # DomainEvent("points.earned", ...)
    re.compile(r"event_type\s*=\s*\"" + TYPE + "\""),                       # ledger.stage(..., event_type="...")
    re.compile(r"\.stage\(\s*\"[a-z_]+\",\s*[^,()]+,\s*\"" + TYPE + "\""),  # CardChange.stage(kind, fen, "gift_card.paid")
    re.compile(r"VersionedConfig\(\s*\"[^\"]+\",\s*\w+,\s*\w+,\s*\"" + TYPE + "\""),   # a configuration's change
)
# Events whose type is not a literal at the DomainEvent(...) call: each is read where it is made below.
COMPUTED = {"chalicelib/ledger/account.py": "event_type", "chalicelib/db/versioned.py": "self.event_type",
            "chalicelib/tiers/standing.py": "EVENTS[cause]", "chalicelib/tiers/membership.py": "f'membership.{action}'",
            "chalicelib/db/outbox.py": None}


def _sources() -> dict[str, str]:
    return {str(p.relative_to(ROOT)): p.read_text() for p in sorted((ROOT / "chalicelib").rglob("*.py"))}


def emitted_types() -> set[str]:
    """Every event type the code can emit, read from the code."""
    from chalicelib.tiers import standing
    found: set[str] = set()
    for path, text in _sources().items():
        if path.startswith("chalicelib/webhooks/domain.py"):
            continue
        for form in LITERAL_FORMS:
            found |= set(form.findall(text))
        for actions in re.findall(r"_record\(uow, item, ([^,]+),", text):    # membership.<action>
            found |= {f"membership.{a}" for a in re.findall(r"\"([a-z]+)\"", actions)}
    return found | set(standing.EVENTS.values())


def test_every_computed_event_type_is_one_this_test_reads():
    import ast
    computed = {}
    for path, text in _sources().items():
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "DomainEvent":
                first = node.args[0] if node.args else None
                if not (isinstance(first, ast.Constant) and isinstance(first.value, str)):
                    computed[path] = ast.unparse(first) if first is not None else None
    assert computed == COMPUTED      # a new computed type: teach emitted_types() to read it


def test_the_catalogue_is_exactly_the_types_the_code_emits():
    emitted = emitted_types()
    assert {"points.earned", "order.earned", "tier.upgraded", "membership.purchased", "gift_card.paid",
            "stored_value.topped_up", "webhook.subscription_disabled", "webhook.test"} <= emitted
    assert sorted(emitted - domain.EVENT_TYPES) == []         # a filter for any of them is accepted
    assert sorted(domain.EVENT_TYPES - emitted) == []         # no filter is accepted that never receives
    assert all(re.fullmatch(TYPE, t) for t in domain.EVENT_TYPES)


def _documented_catalogue() -> list[tuple[str, tuple[str, ...], str, str]]:
    """The catalogue's tables of docs/integrators/webhooks.md: (family, types, when, data) a row."""
    text = (ROOT / "docs" / "integrators" / "webhooks.md").read_text()
    section = text[text.index("## The event catalogue"):text.index("## What is posted")]
    rows, family = [], None
    for line in section.splitlines():
        if line.startswith("### "):
            family = line[4:].strip()
        elif family and line.startswith("| `"):
            cells = [c.strip() for c in line.strip().strip("|").split(" | ")]
            rows.append((family, tuple(re.findall(r"`" + TYPE + "`", cells[0])), cells[1], cells[2]))
    return rows


def test_the_documented_catalogue_is_the_one_listWebhookEventTypes_answers():
    from chalicelib.webhooks import catalogue, service
    in_code = [(family, types, when, data) for family, rows in catalogue.CATALOGUE for types, when, data in rows]
    assert in_code == _documented_catalogue()
    answered = service.event_types()
    listed = [t["type"] for t in answered["event_types"]]
    assert len(listed) == len(set(listed)) == len(domain.EVENT_TYPES) and set(listed) == domain.EVENT_TYPES
    by_type = {t["type"]: t for t in answered["event_types"]}
    assert by_type["points.earned"]["ledger"] == "points" and by_type["order.earned"]["ledger"] is None
    assert by_type["gift_card.paid"]["ledger"] == "gift_cards" and by_type["staff.locked"]["family"] == "Staff"
    assert set(answered["ledger_fields"]) == {"points", "stored_value", "gift_cards"}
    assert all(set(types) <= domain.EVENT_TYPES for types in catalogue.LEDGER_TYPES.values())


# --- the retry schedule ------------------------------------------------------------------------

class _Edge(random.Random):
    """A random source at one end of its range."""

    def __init__(self, top: bool) -> None:
        super().__init__(0)
        self.top = top

    def uniform(self, a: float, b: float) -> float:
        return b if self.top else a


def test_the_schedule_spans_a_day_and_stays_within_sqs():
    schedule = domain.RETRY_SECONDS
    assert domain.MAX_ATTEMPTS == len(schedule) + 1 == domain.max_attempts()
    assert sum(schedule) >= 24 * 3600
    assert list(schedule) == sorted(schedule) and all(s > 0 for s in schedule)
    assert domain.JITTER == 0.2


def test_every_wait_is_jittered_up_to_a_fifth_and_never_past_what_sqs_allows():
    rng = random.Random(25)
    for attempt, planned in enumerate(domain.RETRY_SECONDS, start=1):
        base = min(planned, domain.MAX_WAIT_SECONDS)
        assert domain.wait_after(attempt, _Edge(top=False)) == base
        top = domain.wait_after(attempt, _Edge(top=True))
        assert base <= top <= base * 1.2 and top == min(int(planned * 1.2), domain.MAX_WAIT_SECONDS)
        for _ in range(200):
            assert base <= domain.wait_after(attempt, rng) <= top
    assert domain.wait_after(len(domain.RETRY_SECONDS) + 5, _Edge(top=True)) <= SQS_LONGEST_VISIBILITY


def test_a_wait_fits_in_what_is_left_of_sqs_twelve_hours_after_the_batch_ran():
    # SQS counts its 12 hours from the receive and refuses a visibility past what is left of them;
    # the wait is set after the batch ran (a Lambda runs at most 15 minutes)
    for attempt in range(1, domain.MAX_ATTEMPTS + 1):
        assert domain.wait_after(attempt, _Edge(top=True)) <= SQS_LONGEST_VISIBILITY - LAMBDA_LONGEST_RUN
    assert sum(domain.wait_after(n, _Edge(top=False)) for n in range(1, domain.MAX_ATTEMPTS)) >= 24 * 3600


def test_the_schedule_is_shortened_on_the_local_and_test_stages_only(stage, monkeypatch):
    monkeypatch.setenv("WEBHOOK_RETRY_SECONDS", "0,2,5")
    for name in ("local", "test"):
        stage(name)
        assert domain.retry_schedule() == (0, 2, 5) and domain.max_attempts() == 4
        assert domain.wait_after(2, _Edge(top=False)) == 2
    for name in ("prod", "dev", "staging"):
        stage(name)
        assert domain.retry_schedule() == domain.RETRY_SECONDS and domain.max_attempts() == domain.MAX_ATTEMPTS


# --- URLs and addresses --------------------------------------------------------------------------

@pytest.mark.parametrize("url", ["http://hooks.example.com/in", "ftp://hooks.example.com/in", "hooks.example.com/in",
                                 "https://user:pw@hooks.example.com/in", "https://token@hooks.example.com/in",
                                 "https://hooks.example.com/in#frag", "https:///in",
                                 "https://hooks.example.com/" + "a" * 2048])
def test_outside_the_local_stage_a_url_is_https_without_credentials_or_fragment(url, stage, monkeypatch):
    stage("prod")
    _resolving(monkeypatch, "93.184.216.34")
    with pytest.raises(domain.UnsafeUrl) as refused:
        domain.check_url(url)
    assert refused.value.status == 422


@pytest.mark.parametrize("address", [
    "10.1.2.3", "172.16.0.1", "172.31.255.255", "192.168.1.1", "127.0.0.1", "127.8.8.8", "169.254.169.254",
    "0.0.0.0", "100.64.0.1", "224.0.0.251", "239.255.255.250", "255.255.255.255",
    "::1", "::", "fc00::1", "fd12:3456::1", "fe80::1", "ff02::1", "::ffff:10.0.0.1", "::ffff:127.0.0.1",
    "::ffff:169.254.169.254", "2001:db8::1",
    "2002:0a00:0001::1", "2002:a9fe:a9fe::1"])           # 6to4 carrying 10.0.0.1 and the metadata address
def test_a_host_resolving_to_a_non_public_address_is_refused(address, stage, monkeypatch):
    stage("prod")
    _resolving(monkeypatch, address)
    with pytest.raises(domain.UnsafeUrl, match="non-public"):
        domain.check_url("https://hooks.example.com/in")


def test_one_non_public_address_among_public_ones_is_enough_to_refuse(stage, monkeypatch):
    stage("prod")
    _resolving(monkeypatch, "93.184.216.34", "10.0.0.7")
    with pytest.raises(domain.UnsafeUrl):
        domain.check_address("hooks.example.com", 443)


def test_a_public_address_passes_and_is_resolved_on_the_urls_port(stage, monkeypatch):
    stage("prod")
    asked = _resolving(monkeypatch, "93.184.216.34", "2606:2800:220:1:248:1893:25c8:1946")
    assert domain.check_url("https://hooks.example.com/in?x=1") == "https://hooks.example.com/in?x=1"
    assert domain.check_url("https://hooks.example.com:8443/in")
    assert asked == [("hooks.example.com", 443), ("hooks.example.com", 8443)]
    # IPv4 first (the sender connects to the first: a Lambda outside a VPC has no IPv6 route)
    assert domain.check_address("hooks.example.com", 443) == ["93.184.216.34", "2606:2800:220:1:248:1893:25c8:1946"]


def test_a_host_that_does_not_resolve_is_refused(stage, monkeypatch):
    stage("prod")

    def nowhere(*args, **kwargs):
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
    monkeypatch.setattr(socket, "getaddrinfo", nowhere)
    with pytest.raises(domain.UnsafeUrl, match="does not resolve"):
        domain.check_url("https://nowhere.invalid/in")


def test_on_the_local_stage_plain_http_and_loopback_pass_without_resolving(stage, monkeypatch):
    asked = _resolving(monkeypatch, "10.0.0.1")
    for name in ("local", "test"):
        stage(name)
        assert domain.check_url("http://127.0.0.1:8765/hooks") == "http://127.0.0.1:8765/hooks"
        assert domain.check_url("https://hooks.internal/in")
        assert domain.check_address("127.0.0.1", 8765) == []
        with pytest.raises(domain.UnsafeUrl):
            domain.check_url("https://user:pw@127.0.0.1/hooks")        # credentials: never
    assert asked == []


def test_the_sender_refuses_a_private_address_without_connecting(stage, monkeypatch):
    stage("prod")
    _resolving(monkeypatch, "10.0.0.5")

    def no_connection(*args, **kwargs):
        raise AssertionError("connected")
    monkeypatch.setattr(socket, "create_connection", no_connection)
    outcome = sender.post("https://hooks.example.com/in", "{}", {"webhook-id": "x"})
    assert outcome.status_code is None and not outcome.ok and outcome.response == ""
    assert outcome.error.startswith("refused") and "non-public" in outcome.error


# --- signing ------------------------------------------------------------------------------------

def test_a_new_secret_is_whsec_and_32_random_bytes():
    made = {signing.new_secret() for _ in range(20)}
    assert len(made) == 20
    for secret in made:
        assert secret.startswith("whsec_")
        assert len(base64.b64decode(secret.removeprefix("whsec_"), validate=True)) == 32
        Webhook(secret)                                          # the library takes it as it is


def test_a_sealed_secret_unseals_for_its_own_subscription_and_program_only():
    secrets.reload()
    secret = signing.new_secret()
    stored = signing.seal(secret, "default", "01SUB")
    assert secret not in str(stored) and stored["retire_at"] is None
    assert stored["master"] == secrets.current().api_key_active and stored["id"] and stored["created_at"]
    assert signing.unseal(stored, "default", "01SUB") == secret
    assert signing.seal(secret, "default", "01SUB")["sealed"] != stored["sealed"]     # a fresh nonce each time
    for program, subscription in (("default", "01OTHER"), ("demo-2", "01SUB")):
        with pytest.raises(InvalidTag):
            signing.unseal(stored, program, subscription)
    tampered = base64.b64decode(stored["sealed"])
    tampered = tampered[:-1] + bytes([tampered[-1] ^ 1])
    with pytest.raises(InvalidTag):
        signing.unseal({**stored, "sealed": base64.b64encode(tampered).decode()}, "default", "01SUB")


def test_a_secret_sealed_under_a_master_no_longer_listed_does_not_unseal():
    stored = signing.seal(signing.new_secret(), "default", "01SUB")
    with pytest.raises(RuntimeError, match="no longer listed"):
        signing.unseal({**stored, "master": "m-gone"}, "default", "01SUB")


def test_headers_signed_with_two_keys_verify_with_either_and_not_a_third():
    old, new, stranger = signing.new_secret(), signing.new_secret(), signing.new_secret()
    body = '{"id":"01EVT","type":"points.earned","data":{"amount":200}}'
    at = datetime.now(UTC)
    headers = signing.headers("01EVT", body, [new, old], at)
    assert headers["webhook-id"] == "01EVT" and headers["webhook-timestamp"] == str(int(at.timestamp()))
    assert [s.split(",")[0] for s in headers["webhook-signature"].split(" ")] == ["v1", "v1"]
    assert headers["content-type"] == "application/json"
    for key in (old, new):
        assert Webhook(key).verify(body, headers) == {"id": "01EVT", "type": "points.earned", "data": {"amount": 200}}
    with pytest.raises(WebhookVerificationError):
        Webhook(stranger).verify(body, headers)
    with pytest.raises(WebhookVerificationError):
        Webhook(old).verify(body.replace("200", "201"), headers)
    stale = signing.headers("01EVT", body, [old], at - timedelta(minutes=10))
    with pytest.raises(WebhookVerificationError):
        Webhook(old).verify(body, stale)                       # a replayed capture is too old


def test_live_drops_retired_secrets():
    now = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
    current = {"id": "a", "retire_at": None}
    overlapping = {"id": "b", "retire_at": clock.iso(now + timedelta(hours=1))}
    retired = {"id": "c", "retire_at": clock.iso(now - timedelta(seconds=1))}
    ending_now = {"id": "d", "retire_at": clock.iso(now)}
    assert [s["id"] for s in signing.live([current, overlapping, retired, ending_now], now)] == ["a", "b"]
    assert signing.live([current], now + timedelta(days=400)) == [current]
