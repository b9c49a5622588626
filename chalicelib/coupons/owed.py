"""Coupon packs owed to a member: a grant (a tier's upgrade pack, a top-up's bonus pack) whose
coupons could not be issued in its own transaction (no such pack in force, a template out of stock,
paused or ended, the member at a limit). The grant is recorded all the same and the pack is owed:
an :class:`~chalicelib.coupons.tables.OwedPackItem` written in the grant's unit, on the due index,
with the reason. The ``coupon-owed`` job (daily) tries it again in one transaction: the pack's
coupons, with ids derived from the grant (:func:`seed_of`, so nothing is ever issued twice), the
owed item settled ``issued``, and the grant's owner told in the same unit (``pack_rules.SETTLED``: the
benefits capability marks its entitlement ``issued``). A pack still refused after
:data:`TRY_DAYS` days of tries is settled ``expired`` (``coupon.pack_owed_expired``), and its owner
told so. A failure never stops the grant nor the run: it is counted and tried again.

``listMemberOwedPacks`` (:func:`listing`) shows a member's owed packs, newest first, from the
member's own partition of ``gsi1`` (``OWEDPACKS#<member>``): one Query a page, never a scan."""

from __future__ import annotations

import json
from collections import Counter
from datetime import date, datetime, timedelta
from typing import Any

from chalicelib.coupons import service
from chalicelib.coupons.pack_rules import PACKS, SETTLED
from chalicelib.coupons.tables import OwedPackItem, TemplateItem
from chalicelib.db import backend
from chalicelib.db.backend import SortKey
from chalicelib.db.due import due_day, due_items, due_keys, run_due
from chalicelib.db.uow import UnitOfWork
from chalicelib.jobs import job
from chalicelib.ledger.stock import StockExhausted
from chalicelib.members import service as members
from chalicelib.shared import clock
from chalicelib.shared.errors import NotFound, Problem, changed
from chalicelib.shared.events import DomainEvent
from chalicelib.shared.principal import Principal

KIND = "coupon-owed"
TRY_DAYS = 7                      # tried on each of this many days after the grant, then expired
ACTOR = "job:coupon-owed"


def refusals() -> tuple[type[Problem], ...]:
    """What a pack's coupons may be refused for that owing the pack answers (not a lost race:
    that is retried as anywhere else)."""
    return service.NotClaimable, service.LimitReached, StockExhausted, NotFound


def seed_of(owner: str, ref: str, member_id: str) -> str:
    """The seed of a grant's coupon ids: the same at the grant and in every later try."""
    return f"{owner}/{member_id}/{ref}"


def stage(uow: UnitOfWork, member_id: str, pack_id: str, owner: str, ref: str, why: str) -> list[str]:
    """Stage the pack's coupons for the grant ``owner``/``ref`` (ids derived from it); NotFound
    when no such pack is in force."""
    issued = service.stage_pack(uow, member_id, pack_id, why, seed_of(owner, ref, member_id))
    if issued is None:
        raise NotFound(f"no coupon pack {pack_id[:64]} in force")
    return issued


def owe(uow: UnitOfWork, member_id: str, pack_id: str, owner: str, ref: str, why: str, reason: str) -> dict[str, Any]:
    """Stage the pack as owed to the member (due today: the next run of the job tries it)."""
    now = clock.now()
    today = clock.program_date(now)
    item = OwedPackItem(*OwedPackItem.key(member_id, owner, ref), member_id=member_id, pack_id=pack_id, owner=owner,
                        ref=ref, why=why, status="owed", reason=reason[:300], attempts=0, owed_at=clock.iso(now),
                        give_up_after=(today + timedelta(days=TRY_DAYS)).isoformat(), version=1)
    item.list_under_member()
    _due(item, today)
    uow.create(item, on_conflict=changed("the owed coupon pack"))
    uow.emit(DomainEvent("coupon.pack_owed", f"member:{member_id}", {
        "member_id": member_id, "pack_id": pack_id, "owner": owner, "ref": ref, "reason": item.reason,
        "give_up_after": item.give_up_after}))
    return view(item)


def find(uow: UnitOfWork, member_id: str, owner: str, ref: str) -> OwedPackItem | None:
    """The pack owed for the grant, if one was."""
    return uow.get(OwedPackItem, OwedPackItem.key(member_id, owner, ref), consistent=True)


def view(item: OwedPackItem) -> dict[str, Any]:
    """An owed pack as its owner shows it."""
    return {"pack_id": item.pack_id, "status": item.status, "reason": item.reason, "attempts": int(item.attempts or 0),
            "owed_at": item.owed_at, "give_up_after": item.give_up_after, "settled_at": item.settled_at,
            "coupons": json.loads(item.coupons) if item.coupons else []}


def listing(uow: UnitOfWork, member_id: str, by: Principal, limit: int, before: str | None) -> dict[str, Any]:
    """``listMemberOwedPacks``: a page of the member's owed packs, newest first (``before``: the
    previous page's ``next_before``). The member and HQ see them all; a merchant's caller (its key
    or staff) only those of packs in force whose every template is its own, as it may grant them."""
    member = members.acting_on(uow, member_id, by)
    sort = SortKey.below(before) if before else None
    items = list(uow.query(OwedPackItem, OwedPackItem.member_listing(member.member_id), sort, index="gsi1",
                           forward=False, limit=limit))
    mine = None if by.kind == "member" or by.is_hq else _packs_of(uow, by.merchant_id)
    last = items[-1] if len(items) == limit else None
    return {"member_id": member.member_id, "owed_packs": [listed(i) for i in items if mine is None or i.pack_id in mine],
            "next_before": last.gsi1sk if last else None}


def listed(item: OwedPackItem) -> dict[str, Any]:
    """An owed pack in the member's list: as :func:`view`, with its grant and its next try."""
    return {**view(item), "owner": item.owner, "ref": item.ref,
            "next_try": due_day(item.duesk).isoformat() if item.status == "owed" and item.duesk else None}


def _packs_of(uow: UnitOfWork, merchant_id: str | None) -> set[str]:
    """The packs in force whose every template is the merchant's (none for a caller of no merchant)."""
    if merchant_id is None:
        return set()
    _, packs = PACKS.at(uow, clock.now())
    wanted = sorted({i.template_id for p in packs.packs for i in p.items})
    heads: dict[str, TemplateItem | None] = {}
    for at in range(0, len(wanted), 100):                 # a batch read holds 100 keys
        part = wanted[at:at + 100]
        heads.update(zip(part, uow.get_many(TemplateItem, [TemplateItem.key(t) for t in part]), strict=True))
    owners = {t: head.merchant_id if head is not None else None for t, head in heads.items()}
    return {p.id for p in packs.packs if all(owners[i.template_id] == merchant_id for i in p.items)}


def _due(item: OwedPackItem, day: date) -> None:
    item.duepk, item.duesk = due_keys(KIND, day, f"{item.member_id}#{item.owner}#{item.ref}")


def _settle(uow: UnitOfWork, item: OwedPackItem, status: str, read: int) -> None:
    item.status, item.settled_at, item.duepk, item.duesk = status, clock.iso(clock.now()), None, None
    tell = SETTLED[item.owner].get() if item.owner in SETTLED else None
    if tell is not None:
        tell(uow, item)
    uow.save_versioned(item, read, changed("the owed coupon pack"))


@job("coupon-owed")
def retry(as_of: datetime) -> dict[str, Any]:
    """Try again every coupon pack owed and due: issued, still owed (due tomorrow), or expired."""
    run = run_due(due_items(backend.current(), OwedPackItem, KIND, as_of), lambda due, _: _try(due[0], due[1], as_of),
                  lambda due: f"{due[0]}/{due[1].member_id}/{due[1].owner}/{due[1].ref}", "coupon-owed")
    return {"items_read": run.items_read, "issued": run.counts["issued"], "still_owed": run.counts["still_owed"],
            "expired": run.counts["expired"], **run.give_ups()}


def _try(program: str, due: OwedPackItem, as_of: datetime) -> Counter:
    uow = UnitOfWork(ACTOR, program=program)
    key = OwedPackItem.key(due.member_id, due.owner, due.ref)
    item = uow.get(OwedPackItem, key, consistent=True)
    if item is None or item.status != "owed" or item.duesk != due.duesk:
        return Counter()
    read = int(item.version or 0)
    if item.gsi1pk is None:               # owed before the member's list existed: listed from this try on
        item.list_under_member()
    try:
        item.coupons = json.dumps(stage(uow, item.member_id, item.pack_id, item.owner, item.ref, item.why))
        _settle(uow, item, "issued", read)
        uow.emit(DomainEvent("coupon.pack_owed_issued", f"member:{item.member_id}", {
            "member_id": item.member_id, "pack_id": item.pack_id, "owner": item.owner, "ref": item.ref,
            "coupons": json.loads(item.coupons)}))
        uow.commit()
        return Counter(issued=1)
    except refusals() as refused:
        reason = refused.detail
    uow = UnitOfWork(ACTOR, program=program)          # nothing of the refused try
    item = uow.get(OwedPackItem, key, consistent=True)
    if item is None or item.status != "owed" or int(item.version or 0) != read:
        return Counter()
    if item.gsi1pk is None:
        item.list_under_member()
    item.reason, item.attempts = reason[:300], int(item.attempts or 0) + 1
    today = clock.program_date(as_of)
    if today >= date.fromisoformat(item.give_up_after):
        _settle(uow, item, "expired", read)
        uow.emit(DomainEvent("coupon.pack_owed_expired", f"member:{item.member_id}", {
            "member_id": item.member_id, "pack_id": item.pack_id, "owner": item.owner, "ref": item.ref,
            "reason": item.reason, "attempts": int(item.attempts)}))
        uow.commit()
        return Counter(expired=1)
    _due(item, today + timedelta(days=1))
    uow.save_versioned(item, read, changed("the owed coupon pack"))
    uow.commit()
    return Counter(still_owed=1)
