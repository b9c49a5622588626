"""Third-party coupon codes (a Douyin or Meituan group-buying voucher shown at the till): imported
in batches for a ``third_party`` template, or verified live with the platform
(:mod:`chalicelib.coupons.verifiers`), then written off here like any coupon.

* **Never in clear.** A code is normalised (:func:`normalise`: NFKC, so full-width digits typed at
  a till read as digits; spaces and hyphens dropped; upper case) and stored only as a keyed hash:
  HMAC-SHA256 under a key derived (HKDF-SHA256, info ``loyalty third-party coupon codes``) from the
  stage's API key master (``shared/secrets.py``: Secrets Manager on deployed stages), over the
  program and the code, truncated to 160 bits. Whoever reads the table without the stage's secret
  cannot test a guessed code offline. The item records which master hashed it; a lookup hashes
  the code under every master still listed (one or two during a rotation) and reads them in one
  request. A code is one voucher in a program: the same code in two templates is a duplicate.
* ``COUPONTP#<hash> / CODE``: the code's template, the import batch that brought it and, once a
  till first used it, the coupon it became (its holder and id). That first use is the coupon's
  issue: one unit of the template's stock, ``coupon.issued`` (source ``third_party``), the coupon
  made (in the member's partition if the till named one, else the code's own walk-in holder),
  then the ordinary write-off (budgets, cost split, ``coupon.used``). Its id derives from the hash
  and the pointer is set on the condition that none is, so eight tills at once make it once.
  An undo gives the coupon back (the platform's voucher is refunded there, not voided here): the
  same code finds the same coupon again.
* **Import.** A batch of up to 1,000 codes under its Idempotency-Key is written in chunks that
  fit one transaction each (codes, the stock they add, the template's total): every chunk is
  whole or absent. The codes carry the batch id (derived from the template and the key), so a
  retry after a crash between chunks counts the ones it wrote already as imported and writes
  the rest; any other code already there is a duplicate, counted and not imported twice.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import unicodedata
from typing import Any

from pydantic import Field
from pynamodb.attributes import UnicodeAttribute

from chalicelib.coupons import domain, templates, verifiers
from chalicelib.coupons.service import NotClaimable
from chalicelib.coupons.tables import CouponItem, TemplateItem
from chalicelib.coupons.terms import Terms
from chalicelib.db.items import MainModel
from chalicelib.db.uow import UnitOfWork
from chalicelib.ledger import stock
from chalicelib.shared import clock, sealing, secrets
from chalicelib.shared.errors import Conflict, Forbidden, ValidationProblem, changed
from chalicelib.shared.events import DomainEvent
from chalicelib.shared.principal import Principal
from chalicelib.shared.types import Strict

INFO = b"loyalty third-party coupon codes"
CODE = re.compile(r"^[A-Z0-9]{4,64}$")
MAX_BATCH = 1_000
TRANSACTION = 100                 # DynamoDB's most actions in one transaction
HASH_CHARS = 40                   # 160 bits of the HMAC, hex
COUPON_PREFIX = "TP"
WALK_IN = "~tp-"                  # the holder of a code used with no member named: its own partition


class ImportCodes(Strict):
    codes: list[str] = Field(min_length=1, max_length=MAX_BATCH, description="the platform's codes (4 to 64 "
                             "letters and digits once spaces and hyphens are dropped), at most 1,000 a call")


class NotImportable(Conflict):
    slug, title = "coupon-codes-not-importable", "This template does not take imported codes"


class CodeItem(MainModel):
    """``COUPONTP#<hash> / CODE``: a third-party code, as its keyed hash."""

    template_id = UnicodeAttribute()
    issuer = UnicodeAttribute()                        # the platform (terms.platform)
    master = UnicodeAttribute()                        # the API key master whose derived key hashed it
    batch = UnicodeAttribute()                         # the import (or "live:<ref>" for a code verified live)
    imported_at = UnicodeAttribute()
    member_id = UnicodeAttribute(null=True)            # once first used: the coupon it became
    coupon_id = UnicodeAttribute(null=True)

    @staticmethod
    def key(digest: str) -> tuple[str, str]:
        """The code's key: its keyed hash."""
        return f"COUPONTP#{digest}", "CODE"


# --- hashing -------------------------------------------------------------------------------------

def normalise(code: str) -> str | None:
    """The code as stored and compared: NFKC, spaces and hyphens dropped, upper case; None if what
    is left is not 4 to 64 letters and digits."""
    text = unicodedata.normalize("NFKC", code).upper()
    text = "".join(ch for ch in text if ch not in " -\t")
    return text if CODE.match(text) else None


def digest(master: str, program: str, code: str) -> str:
    """The keyed hash of a normalised ``code`` in ``program`` under the key derived from ``master``."""
    mac = hmac.new(sealing.derive(master, INFO), f"{program}\x00{code}".encode(), hashlib.sha256)
    return mac.hexdigest()[:HASH_CHARS]


def digests(program: str, code: str) -> list[tuple[str, str]]:
    """``(master version, hash)`` of the code under every listed master, the active one first."""
    found = secrets.current()
    versions = [found.api_key_active] + sorted(v for v in found.api_key_masters if v != found.api_key_active)
    return [(v, digest(found.api_key_masters[v], program, code)) for v in versions if v in found.api_key_masters]


def find(uow: UnitOfWork, code: str) -> CodeItem | None:
    """The stored code ``code`` (as typed), or None; one batch read."""
    norm = normalise(code)
    if norm is None:
        return None
    keys = [CodeItem.key(h) for _, h in digests(uow.program, norm)]
    return next((x for x in uow.get_many(CodeItem, keys) if x is not None), None)


def hash_of(item: CodeItem) -> str:
    """The keyed hash a stored code is kept under."""
    return item.pk.split("#", 1)[1]


# --- import --------------------------------------------------------------------------------------

def batch_id(template_id: str, idempotency_key: str | None) -> str:
    """The import's id: the same for a retry under the same key."""
    if not idempotency_key:
        from chalicelib.shared.ids import new_id
        return new_id()
    return hashlib.sha256(f"{template_id}\x00{idempotency_key}".encode()).hexdigest()[:24]


def import_codes(template_id: str, cmd: ImportCodes, by: Principal, uow: UnitOfWork) -> dict[str, Any]:
    """Import a batch of the platform's codes for a third-party template: each new code stored as
    its hash and one more unit of stock; duplicates counted, not imported."""
    head = templates.find(uow, template_id, by, consistent=True)
    if by.store_id and not by.is_hq:
        raise Forbidden("a store's credentials cannot import its merchant's coupon codes")
    terms = templates.terms_of(uow, template_id, int(head.terms_version))
    if terms.kind != "third_party" or terms.codes == "live" or head.state == "ended":
        why = "has ended" if head.state == "ended" else ("verifies its codes live" if terms.kind == "third_party"
                                                         else f"is a {terms.kind} coupon, not third_party")
        raise NotImportable(f"template {template_id} {why}")
    normalised = [normalise(c) for c in cmd.codes]
    bad = [i for i, c in enumerate(normalised) if c is None]
    if bad:
        raise ValidationProblem(f"codes {bad[:10]} are not 4 to 64 letters and digits (spaces and hyphens aside)")
    unique = list(dict.fromkeys(c for c in normalised if c is not None))
    batch, now = batch_id(template_id, uow.idempotency_key), clock.iso(clock.now())
    fresh, ours = _fresh(uow, unique, template_id, batch)
    duplicates = len(cmd.codes) - len(fresh) - ours
    name = templates.stock_name(template_id)
    size = TRANSACTION - stock.level(uow, name)["shards"] - 4    # + the shards' header, the template, event, record
    chunks = [fresh[i:i + size] for i in range(0, len(fresh), size)] or [[]]
    for chunk in chunks[:-1]:                  # each whole or absent; the last commits with the record
        work = UnitOfWork(uow.actor, uow.correlation_id, uow.backend, uow.program, uow.idempotency_key)
        _stage(work, template_id, terms, chunk, batch, now)
        work.commit()
    level = stock.level(uow, name)
    _stage(uow, template_id, terms, chunks[-1], batch, now)
    added = len(chunks[-1])
    uow.emit(DomainEvent("coupon.codes_imported", f"coupon_template:{template_id}", {
        "template_id": template_id, "batch": batch, "imported": len(fresh) + ours, "duplicates": duplicates},
        merchant_id=head.merchant_id))
    return {"template_id": template_id, "batch": batch, "imported": len(fresh) + ours, "duplicates": duplicates,
            "stock": {"total": level["total"] + added, "left": level["left"] + added, "taken": level["taken"]}}


def _fresh(uow: UnitOfWork, codes: list[str], template_id: str, batch: str) -> tuple[list[tuple[str, str]], int]:
    """The codes not stored yet, as ``(master, hash)`` under the active master, and how many this
    batch stored already (a retry after a crash); the rest are duplicates."""
    hashed = [(code, digests(uow.program, code)) for code in codes]
    keys = [CodeItem.key(h) for _, each in hashed for _, h in each]
    stored: dict[str, CodeItem] = {}
    for i in range(0, len(keys), TRANSACTION):
        for item in uow.get_many(CodeItem, keys[i:i + TRANSACTION]):
            if item is not None:
                stored[hash_of(item)] = item
    fresh, ours = [], 0
    for _, each in hashed:
        found = next((stored[h] for _, h in each if h in stored), None)
        if found is None:
            fresh.append(each[0])
        elif found.batch == batch and found.template_id == template_id:
            ours += 1
    return fresh, ours


def _stage(uow: UnitOfWork, template_id: str, terms: Terms, chunk: list[tuple[str, str]], batch: str,
           now: str) -> None:
    """Stage one chunk: its codes, as many units of stock, the template's total."""
    if not chunk:
        return
    for master, h in chunk:
        uow.create(CodeItem(*CodeItem.key(h), template_id=template_id, issuer=terms.platform or "", master=master,
                            batch=batch, imported_at=now), on_conflict=changed("a code (imported meanwhile)"))
    stock.add(uow, templates.stock_name(template_id), len(chunk))
    head = templates.find(uow, template_id, None, consistent=True)
    read = int(head.version or 0)
    head.stock, head.updated_at = int(head.stock) + len(chunk), now
    uow.save_versioned(head, read, changed("the template"))


# --- at the till ---------------------------------------------------------------------------------

def coupon_of(uow: UnitOfWork, found: CodeItem, member_id: str | None) -> CouponItem | None:
    """The coupon a stored code is: the one it became at its first use, or (not yet stored,
    version 0) the one its first use makes, held by ``member_id`` or its walk-in holder."""
    if found.coupon_id and found.member_id:
        c = uow.get(CouponItem, CouponItem.key(found.member_id, found.coupon_id), consistent=True)
        holder = member_id or f"{WALK_IN}{hash_of(found)[:24]}"
        if c is not None and c.state == "unused" and c.member_id != holder:
            return _rehome(uow, found, c, holder)
        return c
    head = templates.find(uow, found.template_id, None)
    _active(head)
    terms = templates.terms_of(uow, head.template_id, int(head.terms_version))
    return fresh_coupon(head, terms, hash_of(found), member_id)


def _rehome(uow: UnitOfWork, found: CodeItem, c: CouponItem, holder: str) -> CouponItem:
    """A code given back by an undo and shown again by someone else (another member, or a walk-in
    customer): its coupon moves to them, staged with the use (the old item deleted at the version
    read, the code pointed at the new holder): issued once, used in the holder's own list."""
    read = int(c.version or 0)
    uow.delete(CouponItem(*CouponItem.key(c.member_id, c.coupon_id)), CouponItem.version == read,
               on_conflict=changed("the coupon"))
    uow.update(CodeItem(*CodeItem.key(hash_of(found))), [CodeItem.member_id.set(holder)],
               (CodeItem.coupon_id == c.coupon_id) & (CodeItem.member_id == c.member_id),
               on_conflict=changed("the code"))
    values = {k: v for k, v in c.attribute_values.items() if k not in ("pk", "sk")}
    moved = CouponItem(*CouponItem.key(holder, c.coupon_id), **{**values, "member_id": holder, "version": 0})
    return moved


def _active(head: TemplateItem) -> None:
    """A code's first use issues its coupon: only while its template is active, as any issue."""
    if head.state != "active":
        raise NotClaimable(f"template {head.template_id} is {head.state}: its codes are not taken now")


def live_coupon(uow: UnitOfWork, code: str, template_id: str | None, member_id: str | None) -> CouponItem | None:
    """The coupon a code of a live-verified template is, if the platform knows it (it is asked
    now: 503 or 502 if it cannot answer, before anything is staged); None for a code it does not
    know (a wrong code) or a template that does not verify live."""
    norm = normalise(code)
    if norm is None or not template_id or len(template_id) > 64:
        return None
    head = uow.get(TemplateItem, TemplateItem.key(template_id))
    if head is None:
        return None
    terms = templates.terms_of(uow, head.template_id, int(head.terms_version))
    if terms.kind != "third_party" or terms.codes != "live" or not terms.platform:
        return None
    _active(head)
    found = verifiers.current().verify(terms.platform, norm)
    if found is None:
        return None
    if found.face_value_fen != terms.amount_off_fen:
        raise Conflict(f"the platform's face value {found.face_value_fen} is not template {template_id}'s "
                       f"{terms.amount_off_fen}")
    return fresh_coupon(head, terms, digests(uow.program, norm)[0][1], member_id, found.valid_until)


def fresh_coupon(head: TemplateItem, terms: Terms, h: str, member_id: str | None,
                 until_at_most: str | None = None) -> CouponItem:
    """The coupon (not yet stored) that a third-party code's first use makes."""
    now = clock.now()
    until = domain.valid_until(terms, now, clock.program_zone())
    if until_at_most is not None and (until is None or clock.parse_iso(until_at_most) < until):
        until = clock.parse_iso(until_at_most)
    holder = member_id or f"{WALK_IN}{h[:24]}"
    return CouponItem(*CouponItem.key(holder, COUPON_PREFIX + h), coupon_id=COUPON_PREFIX + h, member_id=holder,
                      template_id=head.template_id, terms_version=int(head.terms_version),
                      terms=terms.model_dump_json(exclude_none=True), merchant_id=head.merchant_id,
                      code=f"{COUPON_PREFIX}-{h[:12]}", state="unused", source="third_party",
                      valid_from=clock.iso(domain.valid_from(terms, now)),
                      valid_until=clock.iso(until) if until else None, claimed_at=clock.iso(now), version=0)


def is_first_use(c: CouponItem) -> bool:
    """Whether ``c`` is a third-party code's coupon not stored yet."""
    return c.source == "third_party" and not int(c.version or 0) and not c.stock_take   # (moved: taken at the first)


def stage_first_use(uow: UnitOfWork, c: CouponItem, used: Any, live: str | None = None) -> None:
    """Stage what a third-party code's first use adds to its write-off (or lock): the code points at
    its coupon (once: a code used meanwhile is 409 ``coupon-used``), one unit of stock, and
    ``coupon.issued``. (The coupon itself is created by the write-off's versioned save.)"""
    import json

    h = c.coupon_id[len(COUPON_PREFIX):]
    item = CodeItem(*CodeItem.key(h))
    actions: list[Any] = [CodeItem.member_id.set(c.member_id), CodeItem.coupon_id.set(c.coupon_id)]
    if live is not None:                    # a code verified live: stored now, at its first use
        actions += [CodeItem.template_id.set(c.template_id), CodeItem.issuer.set(live),
                    CodeItem.master.set(secrets.current().api_key_active), CodeItem.batch.set("live"),
                    CodeItem.imported_at.set(clock.iso(clock.now()))]
    uow.update(item, actions,
               CodeItem.coupon_id.does_not_exist(), on_conflict=lambda: used("the code was used meanwhile"))
    try:
        parts = stock.take(uow, templates.stock_name(c.template_id), 1).parts
    except stock.StockExhausted:
        raise stock.StockExhausted(f"template {c.template_id} has no stock left for this code", left=0) from None
    c.stock_take = json.dumps([list(p) for p in parts])
    uow.emit(DomainEvent("coupon.issued", f"member:{c.member_id}", {
        "member_id": c.member_id, "coupon_id": c.coupon_id, "template_id": c.template_id,
        "terms_version": int(c.terms_version), "source": "third_party", "valid_until": c.valid_until},
        merchant_id=c.merchant_id))
